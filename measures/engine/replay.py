"""Replay-format CSV in and findings CSV out (see DESIGN.md "Replay format").

Pure: streams in, streams out, no Django, so the ``replay`` command and the benchmarks share it.
The whole input is validated before anything is computed, so a malformed file yields no output.
"""

from __future__ import annotations

import csv
import datetime
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

from .data import CaseResult, EngineSettings, Observation
from .detection import compute_case

INPUT_COLUMNS = (
    "client_id",
    "case_id",
    "session_number",
    "session_date",
    "attended",
    "goals",
    "tasks",
    "bond",
)
OPTIONAL_COLUMNS = ("rupture",)
OUTPUT_COLUMNS = ("client_id", "case_id", "session_number", "signal", "severity", "message")
SCORE_COLUMNS = ("goals", "tasks", "bond")

# case_id -> client_id -> observations sorted by session number
ReplayCases = dict[str, dict[str, list[Observation]]]


class ReplayError(ValueError):
    """A malformed replay file; the message reads ``line N: reason``."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ReplayStats:
    """Counts from one replay run."""

    rows: int
    participants: int
    cases: int
    findings: int


def _score(raw: str, column: str, line: int, settings: EngineSettings) -> float | None:
    text = raw.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ReplayError(line, f"{column} is not a number: {raw!r}") from None
    if not math.isfinite(value):
        raise ReplayError(line, f"{column} is not a number: {raw!r}")
    if not settings.scale_min <= value <= settings.scale_max:
        raise ReplayError(
            line,
            f"{column} {text} is outside the scale {settings.scale_min:g}–{settings.scale_max:g}",
        )
    return value


def read_replay(stream: Iterable[str], settings: EngineSettings) -> ReplayCases:
    """Parse and validate a replay CSV (an open text file or any iterable of lines).

    Returns case_id -> client_id -> observations sorted by session number (rows may come in any
    order). Raises ReplayError("line N: reason") on: a missing column, a short row, an empty id,
    a session number that is not a positive integer, a bad date (YYYY-MM-DD), attended other than
    0/1, a score that is not a number or outside the scale, scores or a rupture answer on a
    session not attended, a rupture answer other than 0/1/2, a duplicate session for a client, or
    a client listed under two cases.
    """
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        raise ReplayError(1, "the file is empty; expected a header row") from None
    names = [name.strip().lower() for name in header]
    missing = [column for column in INPUT_COLUMNS if column not in names]
    if missing:
        raise ReplayError(reader.line_num, f"missing column(s): {', '.join(missing)}")
    index = {column: names.index(column) for column in INPUT_COLUMNS}
    rupture_index = names.index("rupture") if "rupture" in names else None
    width = max(index.values()) + 1
    if rupture_index is not None:
        width = max(width, rupture_index + 1)

    cases: ReplayCases = {}
    case_of: dict[str, tuple[str, int]] = {}
    seen: dict[tuple[str, int], int] = {}
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < width:
            raise ReplayError(line, f"expected {len(header)} fields, found {len(row)}")
        client_id = row[index["client_id"]].strip()
        case_id = row[index["case_id"]].strip()
        if not client_id:
            raise ReplayError(line, "client_id is empty")
        if not case_id:
            raise ReplayError(line, "case_id is empty")
        raw_number = row[index["session_number"]].strip()
        try:
            session_number = int(raw_number)
        except ValueError:
            raise ReplayError(
                line, f"session_number is not a whole number: {raw_number!r}"
            ) from None
        if session_number < 1:
            raise ReplayError(line, f"session_number must be 1 or more, got {session_number}")
        raw_date = row[index["session_date"]].strip()
        try:
            if len(raw_date) != 10:
                raise ValueError
            session_date = datetime.date.fromisoformat(raw_date)
        except ValueError:
            raise ReplayError(
                line, f"session_date is not a date (YYYY-MM-DD): {raw_date!r}"
            ) from None
        raw_attended = row[index["attended"]].strip()
        if raw_attended not in ("0", "1"):
            raise ReplayError(line, f"attended must be 0 or 1, got {raw_attended!r}")
        attended = raw_attended == "1"
        goals, tasks, bond = (
            _score(row[index[column]], column, line, settings) for column in SCORE_COLUMNS
        )
        rupture = None
        if rupture_index is not None:
            raw_rupture = row[rupture_index].strip()
            if raw_rupture:
                if raw_rupture not in ("0", "1", "2"):
                    raise ReplayError(
                        line, f"rupture must be 0, 1, 2 or empty, got {raw_rupture!r}"
                    )
                rupture = int(raw_rupture)
        if not attended and (goals is not None or tasks is not None or bond is not None):
            raise ReplayError(line, "scores are given for a session not attended")
        if not attended and rupture is not None:
            raise ReplayError(line, "a rupture answer is given for a session not attended")

        key = (client_id, session_number)
        if key in seen:
            raise ReplayError(
                line,
                f"duplicate session {session_number} for client {client_id} "
                f"(first on line {seen[key]})",
            )
        seen[key] = line
        known = case_of.get(client_id)
        if known is None:
            case_of[client_id] = (case_id, line)
        elif known[0] != case_id:
            raise ReplayError(
                line,
                f"client {client_id} is in case {case_id} here but in case {known[0]} "
                f"on line {known[1]}",
            )
        cases.setdefault(case_id, {}).setdefault(client_id, []).append(
            Observation(
                session_number=session_number,
                session_date=session_date,
                attended=attended,
                goals=goals,
                tasks=tasks,
                bond=bond,
                rupture=rupture,
            )
        )
    for participants in cases.values():
        for observations in participants.values():
            observations.sort(key=lambda obs: obs.session_number)
    return cases


def iter_finding_rows(case_id: str, result: CaseResult) -> Iterator[tuple]:
    """Output rows (OUTPUT_COLUMNS order) for one case's findings history."""
    for finding in result.findings:
        yield (
            finding.participant_id,
            case_id,
            finding.session_number,
            finding.kind,
            finding.severity,
            finding.message,
        )


def run_replay(
    cases: Mapping[str, Mapping[str, Sequence[Observation]]],
    output: TextIO,
    settings: EngineSettings,
) -> int:
    """Run the engine over parsed cases and write the findings CSV (with header) to ``output``.

    Returns the number of finding rows written. Cases are written in input order.
    """
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(OUTPUT_COLUMNS)
    count = 0
    for case_id, participants in cases.items():
        result = compute_case(participants, settings)
        rows = list(iter_finding_rows(case_id, result))
        writer.writerows(rows)
        count += len(rows)
    return count


def replay_file(
    input_stream: Iterable[str], output: TextIO, settings: EngineSettings
) -> ReplayStats:
    """Validate ``input_stream`` completely, then write the findings to ``output``."""
    cases = read_replay(input_stream, settings)
    findings = run_replay(cases, output, settings)
    return ReplayStats(
        rows=sum(len(obs) for parts in cases.values() for obs in parts.values()),
        participants=sum(len(parts) for parts in cases.values()),
        cases=len(cases),
        findings=findings,
    )
