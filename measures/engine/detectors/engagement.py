"""Engagement: runs of no-shows and checks skipped, weighed against the client's own habits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..baseline import ALERT, INFO, NONE, WARNING, State, rounded
from ..contract import (
    KIND_LOW_SCORE,
    KIND_RELIABLE_DROP,
    KIND_RUPTURE,
    KIND_SUSTAINED_DECLINE,
    NO_SUBSCALE,
)
from ..data import EngineSettings, Observation
from ..wording import engagement_context, missed_checks_message, no_show_message

# Score signals a lapse may follow, in the order that names the one it follows.
SCORE_KINDS = (KIND_RELIABLE_DROP, KIND_SUSTAINED_DECLINE, KIND_LOW_SCORE, KIND_RUPTURE)
# A run this many times less likely than engagement_alpha is an alert.
ALERT_ALPHA_DIVISOR = 10


@dataclass(slots=True)
class _Run:
    """The current run of sessions without a check (no-show or attended without one)."""

    start: int = 0
    length: int = 0
    no_shows: int = 0
    skipped: int = 0
    usual_rate: float = 0.0  # the client's rate of lapses before the run
    after_ceiling: bool = False  # the run began after a ceiling run


class Engagement:
    """The client's lapse rate so far, the current run, and the latest score signal."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self.sessions = 0
        self.lapses = 0
        self.run = _Run(usual_rate=settings.engagement_prior_rate)
        self.last_signal: int | None = None  # session of the latest warning-level score signal
        self.last_signal_kind = ""

    def observe(self, obs: Observation, is_answered: bool, is_ceiling_run: bool) -> None:
        """Count the session before the scores are judged (a run's usual rate excludes it)."""
        settings = self.settings
        is_lapse = (not obs.attended) or (not is_answered)
        run = self.run
        if is_lapse:
            if run.length == 0:
                prior_n = settings.engagement_prior_sessions
                run.usual_rate = (settings.engagement_prior_rate * prior_n + self.lapses) / (
                    prior_n + self.sessions
                )
                run.start = obs.session_number
                run.no_shows = run.skipped = 0
                # full marks say nothing about the alliance, so engagement is all there is
                # to see: "polite full marks, then silence" is the silent-disengagement path
                run.after_ceiling = is_ceiling_run
            run.length += 1
            run.no_shows += not obs.attended
            run.skipped += bool(obs.attended)
        else:
            run.length = 0
        self.sessions += 1
        self.lapses += is_lapse

    def step(
        self, sn: int, states: Mapping[str, State | None]
    ) -> tuple[State | None, State | None]:
        """(no-show state, missed-checks state) at session ``sn``, given the score detectors'
        states at this session."""
        signalled = [
            kind
            for kind in SCORE_KINDS
            if states.get(kind) is not None and states[kind].level >= WARNING
        ]
        if signalled:
            self.last_signal = sn
            self.last_signal_kind = signalled[0]
        if not self.run.length:
            return None, None
        return self._run_states(sn)

    def _run_states(self, sn: int) -> tuple[State | None, State | None]:
        settings = self.settings
        run = self.run
        probability = run.usual_rate**run.length
        run_level = NONE
        if probability <= settings.engagement_alpha / ALERT_ALPHA_DIVISOR:
            run_level = ALERT
        elif probability <= settings.engagement_alpha:
            run_level = WARNING
        follows_drop = (
            self.last_signal is not None
            and self.last_signal >= run.start - settings.escalation_window
        )
        # after full marks the scores cannot warn, so a run of lapses needs less evidence
        # than usual, but still evidence against this client's own habits: a client who
        # often skips a check is not disengaging when they skip two after full marks
        follows_ceiling = (
            run.after_ceiling
            and run.length >= settings.missed_run
            and probability <= settings.engagement_alpha_ceiling
        )
        follows = follows_drop or follows_ceiling
        follows_kind = self.last_signal_kind if follows_drop else ""
        evidence = {
            "run": run.length,
            "no_shows": run.no_shows,
            "skipped_checks": run.skipped,
            "usual_rate": rounded(run.usual_rate),
            "probability": round(probability, 6),
            "follows_signal": follows_drop,
            "follows_kind": follows_kind,
            "follows_ceiling": follows_ceiling,
        }
        after, unusual = engagement_context(
            follows_kind, follows_ceiling, run.usual_rate if run_level >= WARNING else None
        )
        no_show = missed = None
        if run.no_shows:
            no_show = State(
                level=min(ALERT, max(INFO, run_level) + follows),
                subscale=NO_SUBSCALE,
                evidence=evidence,
                message=no_show_message(
                    sn, run.length, run.no_shows, run.skipped, after, unusual
                ),
            )
        if run.skipped:
            base_level = INFO if run.length >= settings.missed_run else NONE
            level = min(ALERT, max(base_level, run_level) + follows)
            if level >= INFO:
                missed = State(
                    level=level,
                    subscale=NO_SUBSCALE,
                    evidence=evidence,
                    message=missed_checks_message(
                        run.length, run.no_shows, run.skipped, after, unusual
                    ),
                )
        return no_show, missed
