"""What kind of rupture: an unresolved confrontation weighs more; the replay's optional column."""

import datetime
import io

import pytest

from measures.engine import EngineSettings, compute_case
from measures.engine.data import Observation
from measures.engine.replay import ReplayError, read_replay

SETTINGS = EngineSettings()
HEADER = "client_id,case_id,session_number,session_date,attended,goals,tasks,bond,rupture"


def series(rupture, rupture_type):
    days = [datetime.date(2025, 1, 1) + datetime.timedelta(weeks=n) for n in range(5)]
    steady = [Observation(n + 1, days[n], True, 9, 9, 9, 0) for n in range(4)]
    return {"p": [*steady, Observation(5, days[4], True, 9, 9, 9, rupture, rupture_type=rupture_type)]}


def rupture_finding(rupture, rupture_type):
    result = compute_case(series(rupture, rupture_type), SETTINGS)
    (finding,) = [f for f in result.active if f.kind == "rupture"]
    return finding, result


@pytest.mark.parametrize(
    "rupture, kind, severity, said",
    [
        (1, None, "warning", ""),
        (1, "withdrawal", "warning", "held back or went along"),
        (1, "confrontation", "alert", "disagreed or felt criticised"),  # at once, no score signal
        (2, "confrontation", "info", "disagreed or felt criticised"),  # talked through: a note
        (2, "withdrawal", "info", "held back"),
    ],
)
def test_an_unresolved_confrontation_is_an_alert_at_once(rupture, kind, severity, said):
    finding, _ = rupture_finding(rupture, kind)
    assert finding.severity == severity
    assert finding.evidence.get("rupture_type") == kind
    assert said in finding.message


def test_an_unresolved_confrontation_raises_the_risk_more_than_a_withdrawal():
    _, withdrawal = rupture_finding(1, "withdrawal")
    _, confrontation = rupture_finding(1, "confrontation")
    _, unknown = rupture_finding(1, None)
    assert confrontation.risk_score > withdrawal.risk_score
    assert withdrawal.risk_score == unknown.risk_score


def test_a_kind_without_something_felt_off_is_ignored_by_the_engine():
    result = compute_case(series(0, "confrontation"), SETTINGS)
    assert not [f for f in result.findings if f.kind == "rupture"]


def read(lines):
    return read_replay(io.StringIO("\n".join(lines) + "\n"), SETTINGS)


def test_the_replay_reads_the_rupture_type_column():
    cases = read([HEADER + ",rupture_type", "a,c,1,2025-01-01,1,9,9,9,1,confrontation",
                  "a,c,2,2025-01-08,1,9,9,9,2,", "a,c,3,2025-01-15,1,9,9,9,1,withdrawal"])
    assert [o.rupture_type for o in cases["c"]["a"]] == ["confrontation", None, "withdrawal"]


def test_an_old_file_without_the_column_still_loads():
    cases = read([HEADER, "a,c,1,2025-01-01,1,9,9,9,1"])
    assert cases["c"]["a"][0].rupture == 1 and cases["c"]["a"][0].rupture_type is None
    cases = read([HEADER[: -len(",rupture")], "a,c,1,2025-01-01,1,9,9,9"])
    assert cases["c"]["a"][0].rupture_type is None


@pytest.mark.parametrize(
    "row, message",
    [
        ("a,c,1,2025-01-01,1,9,9,9,1,anger", "line 2: rupture_type must be withdrawal or confrontation"),
        ("a,c,1,2025-01-01,1,9,9,9,0,withdrawal", "line 2: a rupture_type needs a rupture answer of 1 or 2"),
        ("a,c,1,2025-01-01,1,9,9,9,,withdrawal", "line 2: a rupture_type needs a rupture answer of 1 or 2"),
    ],
)
def test_the_replay_refuses_a_kind_the_app_cannot_write(row, message):
    with pytest.raises(ReplayError, match=message):
        read([HEADER + ",rupture_type", row])
