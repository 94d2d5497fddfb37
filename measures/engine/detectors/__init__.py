"""One module per detector, each with its own state and a ``step`` per session.

``measures.engine.detection`` composes them; the order in which it calls them matters and is
written down there.
"""
