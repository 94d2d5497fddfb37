"""What the clinic's closed cases say about its flags: the share of clients who completed therapy
that the engine ever flagged, set against the false-flag budget (issue 10.1).

The budget is kept on simulated steady courses (measures.engine.budget). A clinic's completers are
its nearest real steady courses, but not all of them were steady: some had a dip that was
repaired, and a flag on it was right. Their flagged share is therefore an upper bound on the false
flags, so it corrects the budget in one direction only (correct_budget). Completers who said that
something felt off are left out: their flags were the likeliest to be right, and counting them made
the bound useless (bench/outcome_correction.py).
"""

from django.db.models import Count, Exists, OuterRef, Q

from sessions_app.models import Case, Participant

from .engine.budget import FLAG_SEVERITIES
from .models import Response, Signal, SignalAction

# Below this many completed cases the observed share is too noisy to correct anything with
# (20 cases, about 20–40 clients: one flag more or less moves it by 3–5 points).
MIN_COMPLETED_CASES = 20


def completed_clients(clinic):
    """The clients of the clinic's closed cases that completed as planned and never said that
    something felt off (removed ones left out too: they did not stay to the end)."""
    reported = Response.objects.filter(participant=OuterRef("pk"), rupture__gt=Response.Rupture.NONE)
    return Participant.objects.filter(
        case__clinic=clinic, case__status=Case.Status.CLOSED, case__outcome=Case.Outcome.COMPLETED, is_active=True
    ).exclude(Exists(reported))


def _ever_flagged():
    """A participant's case had a warning or alert at some point: a flag at that severity now, or a
    line of its history that put it there (a flag a later check or a correction lowered still was
    one). A case's flag counts for each member, as the dashboard shows it and as the budget's
    simulation counts it (measures.engine.budget), so that the two shares compare."""
    flags = Signal.objects.filter(case=OuterRef("case"), severity__in=FLAG_SEVERITIES)
    lines = SignalAction.objects.filter(signal__case=OuterRef("case"), severity__in=FLAG_SEVERITIES)
    return Exists(flags) | Exists(lines)


def completed_flag_counts(clinic):
    """(flagged clients, clients, cases) of the clinic's completed cases. One query."""
    figures = completed_clients(clinic).aggregate(
        flagged=Count("pk", filter=Q(_ever_flagged())),
        clients=Count("pk"),
        cases=Count("case", distinct=True),
    )
    return figures["flagged"], figures["clients"], figures["cases"]


def completed_flag_rate(clinic):
    """(flagged, total): of the clients who completed therapy in the clinic, how many were ever
    flagged (a warning or alert on their case) during their course. One query."""
    flagged, total, _cases = completed_flag_counts(clinic)
    return flagged, total


def correct_budget(budget, flagged, total, cases):
    """The budget to aim at on simulated courses, given what the completers show.

    The completers' flagged share bounds the false-flag rate from above (some of their flags were
    right). So with MIN_COMPLETED_CASES completed cases or more, a share below the budget shows the
    simulation over-counts flags, and the aim rises in proportion, budget × budget / observed, at
    most 2 × budget (nobody flagged, observed 0, is the top). A share above the budget cannot tell
    false flags from right ones, and the budget stands: aiming lower on it (as this did once)
    took the calibration out of the band on 8 of 14 scenarios at 8% (bench/outcome_correction.py).
    Below the minimum the budget stands. Shares are fractions.
    """
    if cases < MIN_COMPLETED_CASES or total == 0:
        return budget
    observed = flagged / total
    if observed >= budget:
        return budget
    if observed == 0:
        return 2 * budget
    return min(2 * budget, budget * budget / observed)
