"""The false-flag budget: one strictness knob over every rule that raises a flag.

A clinic's budget ("at most B% of clients who stay in therapy are ever flagged over a course")
is kept by choosing one number, the strictness, that moves every flag-raising threshold
together: the bar a confirmed drop must clear, the CUSUM's decision interval, the size a
sustained shift or a low run needs, how improbable a run of lapses must be, and how far a
couple's or family's gap must widen. Strictness 1 is the built-in defaults; above 1 fewer
flags, below 1 more. Notes (info findings) and self-reported ruptures do not move: a note is
not a flag, and a client saying something felt off is never explained away as noise.
"""

from __future__ import annotations

import dataclasses

from .data import EngineSettings

STRICTNESS_RANGE = (0.4, 3.0)


def at_strictness(settings: EngineSettings, strictness: float) -> EngineSettings:
    """``settings`` with every flag-raising threshold moved by ``strictness`` (clipped to
    STRICTNESS_RANGE); 1.0 returns ``settings`` unchanged.

    Thresholds in SD units (the confirm bar, the split multiples) and sizes (the sustained
    shift) scale linearly; the CUSUM interval too (its run length grows about linearly with h);
    the lapse probabilities are raised to the power strictness (a run's probability is a
    product, so a power scales the run length it takes). The confirm bar never falls below the
    note's bar (z_drop): a flag needs more evidence than a note.
    """
    low, high = STRICTNESS_RANGE
    s = min(high, max(low, strictness))
    if s == 1.0:
        return settings
    return dataclasses.replace(
        settings,
        z_confirm=max(settings.z_drop, settings.z_confirm * s),
        cusum_h=settings.cusum_h * s,
        sustained_min_change=settings.sustained_min_change * s,
        engagement_alpha=settings.engagement_alpha**s,
        engagement_alpha_ceiling=settings.engagement_alpha_ceiling**s,
        split_large=settings.split_large * s,
        split_very_large=settings.split_very_large * s,
    )
