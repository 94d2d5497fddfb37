"""Ceiling: full marks on several checks in a row (the score can no longer show a rise)."""

from __future__ import annotations

from ..baseline import INFO, State
from ..data import EngineSettings
from ..wording import ceiling_message

# A total within this of the top of the scale is full marks (float noise of the mean of three).
TOP_TOLERANCE = 1e-9


class Ceiling:
    """Counts the checks in a row at full marks."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self.run = 0

    @property
    def is_run(self) -> bool:
        """The checks so far end in a ceiling run."""
        return self.run >= self.settings.ceiling_run

    def step(self, total: float | None) -> State | None:
        """One answered check (a check without a total leaves the run as it was)."""
        scale_max = self.settings.scale_max
        if total is not None:
            self.run = self.run + 1 if total >= scale_max - TOP_TOLERANCE else 0
        if not self.is_run:
            return None
        return State(
            level=INFO,
            subscale="total",
            evidence={"checks_at_top": self.run, "scale_max": scale_max},
            message=ceiling_message(self.run),
        )
