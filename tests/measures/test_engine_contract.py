"""The contract: everything the engine emits has a label, and the labels reach the pages.

Pure (no database): the engine's output over the golden runs, the contract, the models' choices
and the case page's evidence rows.
"""

import pytest

from dashboard.pages import evidence_rows
from measures.engine import contract
from measures.models import Response, Signal
from tests.measures.golden import make_golden

GOLDEN = make_golden.load()
FINDINGS = [
    finding
    for record in GOLDEN["records"].values()
    for case in record["cases"].values()
    for finding in case["findings"] + case["active"]
]


def test_every_kind_severity_and_subscale_the_engine_emits_has_a_label():
    kinds = {f[2] for f in FINDINGS}
    severities = {f[3] for f in FINDINGS}
    subscales = {f[4] for f in FINDINGS}
    assert kinds and kinds <= set(contract.KIND_LABELS)
    assert severities and severities <= set(contract.SEVERITY_LABELS)
    assert subscales - {contract.NO_SUBSCALE} <= set(contract.SERIES_LABELS)


def test_every_evidence_key_the_engine_emits_has_a_label():
    keys = {key for f in FINDINGS for key in f[5]}
    assert keys, "the golden runs have evidence"
    assert keys - set(contract.EVIDENCE_LABELS) == set()


def test_every_code_in_the_evidence_has_a_label():
    for key, labels in contract.EVIDENCE_VALUE_LABELS.items():
        values = {f[5][key] for f in FINDINGS if key in f[5]} - {""}
        assert values, f"the golden runs have codes for {key}"
        assert values <= set(labels), key


def test_the_models_choices_are_the_contracts():
    assert Signal.Kind.choices == list(contract.KINDS)
    assert Signal.Severity.choices == list(contract.SEVERITY_CHOICES)
    assert Response.Rupture.choices == [(code, label) for code, _name, label in contract.RUPTURES]
    # the members the code uses by name
    assert Signal.Kind.RELIABLE_DROP == "reliable_drop"
    assert Signal.Severity.ALERT == "alert"
    assert Response.Rupture.UNRESOLVED == contract.RUPTURE_UNREPAIRED
    assert [Signal.SEVERITY_RANK[s] for s in contract.SEVERITIES] == [0, 1, 2]


def test_the_replay_columns_are_the_documented_ones():
    assert contract.REPLAY_INPUT_COLUMNS == (
        "client_id", "case_id", "session_number", "session_date", "attended", "goals", "tasks",
        "bond",
    )
    assert contract.REPLAY_OUTPUT_COLUMNS == (
        "client_id", "case_id", "session_number", "signal", "severity", "message",
    )


# (evidence, rows the case page shows): empty values and hidden keys are left out, falsy
# values that mean something (0, 0.0, False) are not, and codes are shown in words.
EVIDENCE_ROWS = [
    ({"confirmed_by": ""}, []),
    ({"baseline": None}, []),
    ({"follows_kind": "rupture"}, []),
    ({"run": 0}, [("sessions in a row", "0")]),
    ({"drop": 0.0}, [("drop", "0")]),
    ({"from_ceiling": False}, [("after full marks", "no")]),
    ({"follows_signal": True}, [("after a score signal", "yes")]),
    ({"confirmed_by": "size"}, [("confirmed by", "the size of the drop")]),
    ({"confirmed_by": "next_check"}, [("confirmed by", "the next check")]),
    ({"confirmed_by": "held"}, [("confirmed by", "still below the usual level")]),
    ({"rupture": 1}, [("rupture answer", "something felt off, not talked through")]),
    ({"rupture": 2}, [("rupture answer", "something felt off, talked through")]),
    ({"baseline": 8.5, "current": 6.25}, [("usual level", "8.5"), ("latest", "6.25")]),
    ({"confirmed_by": "", "drop": 2.0, "baseline": None}, [("drop", "2")]),
]


@pytest.mark.parametrize(("evidence", "rows"), EVIDENCE_ROWS)
def test_the_case_page_shows_evidence_in_words_and_leaves_out_empty_values(evidence, rows):
    assert evidence_rows(evidence) == rows


def test_no_evidence_the_engine_emits_reaches_the_page_as_a_code():
    codes = {code for labels in contract.EVIDENCE_VALUE_LABELS.values() for code in labels}
    for finding in FINDINGS:
        for label, text in evidence_rows(finding[5]):
            assert label in contract.EVIDENCE_LABELS.values()
            assert text not in {str(code) for code in codes if isinstance(code, str)}, (label, text)


def test_the_evidence_labels_are_plain_words():
    # "threshold" and "reliable change" once stood side by side unexplained; each size of
    # change now says what it is the most of
    for key, label in contract.EVIDENCE_LABELS.items():
        assert not {"threshold", "reliable change", "cusum"} & set(label.lower().split(" ")), key
        assert "threshold" not in label and "reliable change" not in label, key
    assert contract.EVIDENCE_LABELS["threshold"] == "most that day-to-day variation explains"
    assert "measurement error" in contract.EVIDENCE_LABELS["reliable_change"]
    assert "confirm" in contract.EVIDENCE_LABELS["confirm_threshold"]
