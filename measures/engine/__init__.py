"""The early-warning engine: pure Python + NumPy, no Django.

The live app, the ``replay`` command and the benchmarks all call ``compute_case`` on plain
``Observation`` lists, so they share one implementation.
"""

from .data import (
    KIND_CEILING,
    KIND_LOW_SCORE,
    KIND_MISSED_CHECKS,
    KIND_NO_SHOW,
    KIND_RELIABLE_DROP,
    KIND_REPAIRED_RUPTURE,
    KIND_RUPTURE,
    KIND_SPLIT_ALLIANCE,
    KIND_SUSTAINED_DECLINE,
    KINDS,
    SERIES,
    SEVERITIES,
    SUBSCALES,
    CaseResult,
    EngineSettings,
    Finding,
    Observation,
    ParticipantSummary,
)
from .detection import compute_case, compute_risk
from .statistics import compute_reliability, compute_reliable_change, compute_sem

__all__ = [
    "KIND_CEILING",
    "KIND_LOW_SCORE",
    "KIND_MISSED_CHECKS",
    "KIND_NO_SHOW",
    "KIND_RELIABLE_DROP",
    "KIND_REPAIRED_RUPTURE",
    "KIND_RUPTURE",
    "KIND_SPLIT_ALLIANCE",
    "KIND_SUSTAINED_DECLINE",
    "KINDS",
    "SERIES",
    "SEVERITIES",
    "SUBSCALES",
    "CaseResult",
    "EngineSettings",
    "Finding",
    "Observation",
    "ParticipantSummary",
    "compute_case",
    "compute_reliability",
    "compute_reliable_change",
    "compute_risk",
    "compute_sem",
]
