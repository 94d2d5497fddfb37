"""What the two independent generators (bench/robustness.py, bench/third_generator.py) hand over:
one participant's replay rows with the ground truth they were drawn from, the shape
bench/early_warning.py scores alike. Plain data: no Django, no engine, no numpy."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Truth:
    outcome: str
    mechanism: str
    is_rupture_free: bool
    decline_start: int | None
    last_attended: int | None


@dataclass(slots=True)
class Record:
    """One participant's generated replay rows and ground truth."""

    client_id: str
    case_id: str
    mechanism: str
    truth: Truth
    rows: list[dict[str, str]]
