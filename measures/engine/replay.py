"""Replay-format CSV in and findings CSV out (see DESIGN.md "Replay format").

Pure: streams in, streams out, no Django, so the ``replay`` command and the benchmarks share it.
The whole input is validated before anything is computed, so a malformed file yields no output.
"""

from __future__ import annotations

import csv
import datetime
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

from .contract import (
    REPLAY_EXPORT_COLUMNS,
    REPLAY_INPUT_COLUMNS,
    REPLAY_OPTIONAL_COLUMNS,
    REPLAY_OUTPUT_COLUMNS,
    REPLAY_PENDING_COLUMN,
    RUPTURE_LABELS,
    RUPTURE_TYPE_LABELS,
    SUBSCALES,
)
from .data import CaseResult, EngineSettings, Observation
from .detection import compute_case

INPUT_COLUMNS = REPLAY_INPUT_COLUMNS
OPTIONAL_COLUMNS = REPLAY_OPTIONAL_COLUMNS
OUTPUT_COLUMNS = REPLAY_OUTPUT_COLUMNS
SCORE_COLUMNS = SUBSCALES

READ_COLUMNS = INPUT_COLUMNS + OPTIONAL_COLUMNS
SESSION_MAX = 10_000
# Longer than this (leading zeros aside) is beyond SESSION_MAX, and int() need not see it
# (it refuses more than 4300 digits).
SESSION_DIGITS_MAX = 6
# The rupture answers a file may give, as written.
RUPTURE_CODES = tuple(str(code) for code in RUPTURE_LABELS)

# What the app writes, and nothing looser: int(), float() and date.fromisoformat() also take
# "1_0", "+3", "1e1", non-ASCII digits and ISO week dates. A minus sign is allowed only so that a
# negative score is reported as outside the scale.
WHOLE_NUMBER = re.compile(r"[0-9]+", re.ASCII)
DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
SHOWN_MAX = 40  # characters of a field quoted in an error message

# case_id -> client_id -> observations sorted by session number
ReplayCases = dict[str, dict[str, list[Observation]]]


class ReplayError(ValueError):
    """A malformed replay file; the message reads ``line N: reason``."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


def _cut(text: str) -> str:
    """``text`` for an error message, cut short if it is long."""
    if len(text) > SHOWN_MAX:
        return f"{text[:SHOWN_MAX]}… ({len(text)} characters)"
    return text


def _shown(text: str) -> str:
    """``text`` for an error message, quoted, cut short if it is long."""
    if len(text) > SHOWN_MAX:
        return f"{text[:SHOWN_MAX]!r}… ({len(text)} characters)"
    return repr(text)


def _score(raw: str, column: str, line: int, settings: EngineSettings) -> float | None:
    text = raw.strip()
    if not text:
        return None
    if not DECIMAL.fullmatch(text):
        raise ReplayError(line, f"{column} is not a number: {_shown(raw)}")
    value = float(text)
    if not (math.isfinite(value) and settings.scale_min <= value <= settings.scale_max):
        raise ReplayError(
            line,
            f"{column} {_cut(text)} is outside the scale "
            f"{settings.scale_min:g}–{settings.scale_max:g}",
        )
    return value


def _records(reader: Iterator[list[str]], line_num) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, record) for each record of a strict csv reader.

    A csv.Error becomes ReplayError for the record's first line: with an unclosed quote the
    reader runs on to the end of the file, so the line it stopped at is not where the damage is.
    """
    while True:
        start = line_num() + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if str(exc) == "unexpected end of data":  # strict mode, inside quotes at the end
                raise ReplayError(start, "a quoted field is never closed") from None
            if line_num() == start:
                raise ReplayError(start, f"malformed CSV: {exc}") from None
            raise ReplayError(
                start,
                f"malformed CSV: {exc}, in a record running on to line {line_num()}"
                " (is a quote never closed?)",
            ) from None
        yield start, row


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where the columns the replay reads are in each row."""

    index: dict[str, int]
    rupture: int | None
    pending: int | None
    width: int  # a row needs at least this many fields
    fields: int  # as many as the header has
    rupture_type: int | None = None  # optional column: old files without it still load


def _layout(header_line: int, header: list[str]) -> _Layout:
    names = [name.strip().lower() for name in header]
    if names:
        names[0] = names[0].removeprefix("\ufeff").strip()
    missing = [column for column in INPUT_COLUMNS if column not in names]
    if missing:
        raise ReplayError(header_line, f"missing column(s): {', '.join(missing)}")
    # a repeated column the replay reads is ambiguous; repeats among ignored ones are harmless
    repeated = [column for column in READ_COLUMNS if names.count(column) > 1]
    if repeated:
        raise ReplayError(header_line, f"duplicate column(s): {', '.join(repeated)}")
    index = {column: names.index(column) for column in INPUT_COLUMNS}
    rupture = names.index("rupture") if "rupture" in names else None
    pending = names.index(REPLAY_PENDING_COLUMN) if REPLAY_PENDING_COLUMN in names else None
    width = max(index.values()) + 1
    rupture_type = names.index("rupture_type") if "rupture_type" in names else None
    width = max([width, *(i + 1 for i in (rupture, pending, rupture_type) if i is not None)])
    return _Layout(
        index=index, rupture=rupture, pending=pending, width=width, fields=len(header), rupture_type=rupture_type
    )


def _ids(row: list[str], layout: _Layout, line: int) -> tuple[str, str]:
    client_id = row[layout.index["client_id"]].strip()
    case_id = row[layout.index["case_id"]].strip()
    if not client_id:
        raise ReplayError(line, "client_id is empty")
    if not case_id:
        raise ReplayError(line, "case_id is empty")
    return client_id, case_id


def _session_number(raw: str, line: int) -> int:
    text = raw.strip()
    if not WHOLE_NUMBER.fullmatch(text):
        raise ReplayError(line, f"session_number is not a whole number: {_shown(text)}")
    digits = text.lstrip("0") or "0"
    number = int(digits) if len(digits) <= SESSION_DIGITS_MAX else SESSION_MAX + 1
    if not 1 <= number <= SESSION_MAX:
        raise ReplayError(
            line, f"session_number must be from 1 to {SESSION_MAX}, got {_shown(text)}"
        )
    return number


def _session_date(raw: str, line: int) -> datetime.date:
    text = raw.strip()
    try:
        if not ISO_DATE.fullmatch(text):
            raise ValueError
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise ReplayError(
            line, f"session_date is not a date (YYYY-MM-DD): {_shown(text)}"
        ) from None


def _rupture(row: list[str], layout: _Layout, line: int) -> int | None:
    if layout.rupture is None:
        return None
    text = row[layout.rupture].strip()
    if not text:
        return None
    if text not in RUPTURE_CODES:
        raise ReplayError(line, f"rupture must be 0, 1, 2 or empty, got {_shown(text)}")
    return int(text)


def _pending(row: list[str], layout: _Layout, line: int) -> bool:
    if layout.pending is None:
        return False
    text = row[layout.pending].strip()
    if text not in ("", "0", "1"):
        raise ReplayError(line, f"pending must be 0, 1 or empty, got {_shown(text)}")
    return text == "1"


def _rupture_type(row: list[str], layout: _Layout, line: int, rupture: int | None) -> str | None:
    text = "" if layout.rupture_type is None else row[layout.rupture_type].strip()
    if not text:
        return None
    if text not in RUPTURE_TYPE_LABELS:
        kinds = " or ".join(RUPTURE_TYPE_LABELS)
        raise ReplayError(line, f"rupture_type must be {kinds} or empty, got {_shown(text)}")
    if rupture not in (1, 2):
        raise ReplayError(line, "a rupture_type needs a rupture answer of 1 or 2 (something felt off)")
    return text


def _observation(
    row: list[str], layout: _Layout, line: int, settings: EngineSettings
) -> Observation:
    """One row's session, checked against what the app can write."""
    session_number = _session_number(row[layout.index["session_number"]], line)
    session_date = _session_date(row[layout.index["session_date"]], line)
    raw_attended = row[layout.index["attended"]].strip()
    if raw_attended not in ("0", "1"):
        raise ReplayError(line, f"attended must be 0 or 1, got {_shown(raw_attended)}")
    attended = raw_attended == "1"
    goals, tasks, bond = (
        _score(row[layout.index[column]], column, line, settings) for column in SCORE_COLUMNS
    )
    rupture = _rupture(row, layout, line)
    if not attended and (goals is not None or tasks is not None or bond is not None):
        raise ReplayError(line, "scores are given for a session not attended")
    if not attended and rupture is not None:
        raise ReplayError(line, "a rupture answer is given for a session not attended")
    # The app stores a check whole (all three subscales) or not at all, and asks the rupture
    # question inside the check.
    answered = (goals is not None) + (tasks is not None) + (bond is not None)
    if answered not in (0, 3):
        raise ReplayError(line, "goals, tasks and bond must all be given or all be empty")
    if rupture is not None and not answered:
        raise ReplayError(line, "a rupture answer needs the scores of that check")
    pending = _pending(row, layout, line)
    if pending and not attended:
        raise ReplayError(line, "a check is pending for a session not attended")
    if pending and answered:
        raise ReplayError(line, "a pending check has no scores yet")
    return Observation(
        session_number=session_number,
        session_date=session_date,
        attended=attended,
        goals=goals,
        tasks=tasks,
        bond=bond,
        rupture=rupture,
        pending=pending,
        rupture_type=_rupture_type(row, layout, line, rupture),
    )


class _Seen:
    """Refuses a client's session given twice, and a client listed under two cases."""

    def __init__(self) -> None:
        self.sessions: dict[tuple[str, int], int] = {}  # -> line
        self.case_of: dict[str, tuple[str, int]] = {}  # client -> (case, line)

    def add(self, client_id: str, case_id: str, session_number: int, line: int) -> None:
        key = (client_id, session_number)
        if key in self.sessions:
            raise ReplayError(
                line,
                f"duplicate session {session_number} for client {_cut(client_id)} "
                f"(first on line {self.sessions[key]})",
            )
        self.sessions[key] = line
        known = self.case_of.get(client_id)
        if known is None:
            self.case_of[client_id] = (case_id, line)
        elif known[0] != case_id:
            raise ReplayError(
                line,
                f"client {_cut(client_id)} is in case {_cut(case_id)} here but in case "
                f"{_cut(known[0])} on line {known[1]}",
            )


def read_replay(stream: Iterable[str], settings: EngineSettings) -> ReplayCases:
    """Parse and validate a replay CSV (an open text file or any iterable of lines).

    Returns case_id -> client_id -> observations sorted by session number (rows may come in any
    order; extra columns are ignored). Raises ReplayError("line N: reason"), N being the line
    where the record starts, on: malformed CSV (an unclosed quote, a field over the csv module's
    limit), a missing or repeated column, a short row, an empty id, a session number that is not a
    whole number from 1 to 10000, a date not written YYYY-MM-DD, attended other than 0/1, a
    score that is not a plain decimal number or outside the scale, scores or a rupture answer on a
    session not attended, some scores of a check given and others empty, a rupture answer with no
    scores, a rupture answer other than 0/1/2, a rupture_type other than withdrawal/confrontation
    or without a rupture answer of 1/2, pending other than 0/1/empty or pending on a session
    not attended or with scores, a duplicate session for a client, or a client
    listed under two cases.
    """
    reader = csv.reader(stream, strict=True)
    records = _records(reader, lambda: reader.line_num)
    first = next(records, None)
    if first is None:
        raise ReplayError(1, "the file is empty; expected a header row")
    layout = _layout(*first)
    cases: ReplayCases = {}
    seen = _Seen()
    for line, row in records:
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < layout.width:
            raise ReplayError(line, f"expected {layout.fields} fields, found {len(row)}")
        client_id, case_id = _ids(row, layout, line)
        observation = _observation(row, layout, line, settings)
        seen.add(client_id, case_id, observation.session_number, line)
        cases.setdefault(case_id, {}).setdefault(client_id, []).append(observation)
    for participants in cases.values():
        for observations in participants.values():
            observations.sort(key=lambda obs: obs.session_number)
    return cases


def _score_text(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def history_rows(case_id: str, client_id: str, observations: Sequence[Observation]) -> Iterator[tuple]:
    """One participant's observations as replay rows (REPLAY_EXPORT_COLUMNS order), pending
    column included, so that read_replay gives them back as they were."""
    for obs in observations:
        yield (
            client_id,
            case_id,
            obs.session_number,
            obs.session_date.isoformat(),
            int(obs.attended),
            _score_text(obs.goals),
            _score_text(obs.tasks),
            _score_text(obs.bond),
            "" if obs.rupture is None else obs.rupture,
            int(obs.pending),
            obs.rupture_type or "",
        )


def write_history(cases: Mapping[str, Mapping[str, Sequence[Observation]]], output: TextIO) -> int:
    """Write observations (case_id -> client_id -> observations) as a replay CSV with the pending
    column (REPLAY_EXPORT_COLUMNS). Returns the number of rows written."""
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(REPLAY_EXPORT_COLUMNS)
    count = 0
    for case_id, participants in cases.items():
        for client_id, observations in participants.items():
            rows = list(history_rows(case_id, client_id, observations))
            writer.writerows(rows)
            count += len(rows)
    return count


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
