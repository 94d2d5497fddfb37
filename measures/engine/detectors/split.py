"""Split alliance: in a couple or family, a gap between members wider than their usual gap."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..baseline import ALERT, INFO, WARNING, State, Thresholds, compute_baseline, rounded
from ..data import EngineSettings
from ..wording import split_message

Pair = tuple[str, str]  # two participant ids, in sorted order


@dataclass(slots=True)
class _PairHistory:
    diffs: list[float] = field(default_factory=list)  # second minus first, per joint check
    flags: list[bool] = field(default_factory=list)  # a flagged split, kept out of the usual gap
    run: int = 0  # joint checks in a row, up to the previous one, with the pair split


@dataclass(slots=True)
class _Gap:
    """One pair at one joint check, oriented from the currently lower member."""

    gap: float
    usual_gap: float
    threshold: float
    widening: float
    is_split: bool
    run: int  # joint checks in a row with the pair split, this one included (0: not split)
    level: int  # the split's level by its size and persistence (meaningful when is_split)


class SplitAlliance:
    """Every pair's history of gaps, so a later split is judged against the pair's usual gap."""

    def __init__(
        self, settings: EngineSettings, th: Thresholds, labels: Mapping[str, str] | None
    ) -> None:
        self.settings = settings
        self.th = th
        self.labels = labels or {}
        self.pairs: dict[Pair, _PairHistory] = {}
        self.prev: dict[str, State] = {}

    def step(self, scores: Mapping[str, float]) -> dict[str, State]:
        """The split state at one session of the case, keyed by the lower member.

        ``scores``: the totals of the members who answered a check at this session.
        """
        if len(scores) < 2:
            return self.prev
        ordered = sorted(scores, key=lambda pid: (scores[pid], pid))
        low, high = ordered[0], ordered[-1]
        widest: _Gap | None = None
        gaps = {}
        for i, a in enumerate(ordered):
            for b in ordered[i + 1 :]:
                key = (a, b) if a < b else (b, a)
                gaps[key] = self._gap(key, a, scores)
                if a == low and b == high:
                    widest = gaps[key]
        for key, gap in gaps.items():
            self.pairs[key].run = gap.run
        state: dict[str, State] = {}
        candidate = self._state(widest, low, high, scores)
        if candidate is not None:
            state[low] = candidate
        self.prev = state
        return state

    def _gap(self, key: Pair, lower: str, scores: Mapping[str, float]) -> _Gap:
        """Judge the pair's gap at this check against its usual gap, then learn from it."""
        rc = self.th.rc["total"]
        pair = self.pairs.setdefault(key, _PairHistory())
        diff = scores[key[1]] - scores[key[0]]
        # a difference of two totals has √2 times the SEM of one
        base = compute_baseline(
            pair.diffs, pair.flags, rc, self.th.sem["total"] * math.sqrt(2.0), self.settings
        )
        # orient the gap as (higher - lower) for the current lower member
        sign = 1.0 if key[0] == lower else -1.0
        gap = sign * diff
        usual_gap = sign * base.usual if base is not None else 0.0
        threshold = base.threshold if base is not None else rc
        widening = gap - usual_gap
        # a split is a change in the pair's usual gap, so it needs their history first
        is_split = base is not None and gap >= rc and widening >= threshold
        # persistence counts the checks split by the run's bar (above the note's when stricter)
        run = pair.run + 1 if is_split and widening >= self.settings.split_run_bar * threshold else 0
        level = self._level(widening, threshold, run) if is_split else INFO
        pair.diffs.append(diff)
        # a flagged split stays out of the pair's usual gap, as a confirmed drop stays out of a
        # usual level; a chronic gap (never flagged) is learnt
        pair.flags.append(is_split and level >= WARNING)
        return _Gap(gap, usual_gap, threshold, widening, is_split, run, level)

    def _level(self, widening: float, threshold: float, run: int) -> int:
        """A split's level: the higher of its size (in thresholds) and its persistence, and an
        alert when both reach a warning (a large gap that holds)."""
        s = self.settings
        by_size = INFO
        if widening >= s.split_very_large * threshold:
            by_size = ALERT
        elif widening >= s.split_large * threshold:
            by_size = WARNING
        by_run = INFO
        if run >= s.split_alert_run:
            by_run = ALERT
        elif run >= s.split_warning_run:
            by_run = WARNING
        if by_size >= WARNING and by_run >= WARNING:
            return ALERT  # large and persisting: both kinds of evidence at once
        return max(by_size, by_run)

    def _state(
        self, g: _Gap, low: str, high: str, scores: Mapping[str, float]
    ) -> State | None:
        """The state of the widest pair (lowest and highest member), or None."""
        rc = self.th.rc["total"]
        held = low in self.prev and g.widening >= g.threshold / 2
        is_chronic = g.gap >= rc and g.usual_gap >= rc
        if not (g.is_split or held or is_chronic):
            return None
        if g.is_split:
            # a modest one-off gap is usually one member's dip (their own reliable_drop), so it
            # takes persistence or a size far beyond noise to flag it
            level = g.level
        elif held:
            level = self.prev[low].level
        else:
            level = INFO  # a chronic gap the case started with
        return State(
            level=level,
            subscale="total",
            evidence={
                "lower": low,
                "higher": high,
                "lower_total": rounded(scores[low]),
                "higher_total": rounded(scores[high]),
                "gap": rounded(g.gap),
                "usual_gap": rounded(g.usual_gap),
                "widening": rounded(g.widening),
                "threshold": rounded(g.threshold),
                "split_checks": g.run,
            },
            message=split_message(
                g.is_split, held, scores[low], scores[high], self.labels.get(high, high),
                g.gap, g.usual_gap, g.threshold, g.run,
            ),
        )
