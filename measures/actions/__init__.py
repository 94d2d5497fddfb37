"""State changes of measures, one module per domain: instruments, invitations, sessions (recording
a session and closing a case, with their checks), responses, signals (flags).

These are the only code that writes these rows. Work that leaves the process (email,
re-evaluation) is queued on commit by name (measures.queue), so it never runs for a
rolled-back change. Import from the modules themselves: this package re-exports nothing.
"""
