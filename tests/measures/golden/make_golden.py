"""Record the engine's findings on fixed inputs, for the golden test (test_engine_golden.py).

Run from the repository root: ``.venv/bin/python -m tests.measures.golden.make_golden``.
Only rerun it when a change of the engine's findings is intended, and say so in the commit.

The inputs are stored with the findings (as replay CSV text) so that the golden comparison does
not depend on the simulator: a simulated cohort (individuals, couples, families; fixed seeds),
under the default settings, the calibrated settings the replay command uses, and a few variants
that move the thresholds, plus the replay fixtures of test_replay.py.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
from pathlib import Path

from measures.engine import EngineSettings, compute_case
from measures.engine.calibration import apply_calibration, compute_calibration
from measures.engine.replay import read_replay, run_replay
from measures.simulation import simulate_cohort, write_replay_csv

GOLDEN = Path(__file__).with_name("engine_findings.json.gz")
# (name, cohort size, seed)
COHORTS = (("cohort-a", 300, 8), ("cohort-b", 150, 21))
# name -> changes to the default settings (applied after calibration where it applies)
VARIANTS = {
    "default": {},
    "strict-cutoff": {"cutoff": 8.5},
    "escalation-1": {"escalation_window": 1},
    "short-runs": {"low_run": 2, "ceiling_run": 2, "missed_run": 1, "repair_hold": 1},
}


def replay_inputs() -> dict[str, str]:
    """The replay fixtures of test_replay.py, as CSV texts by name."""
    from tests.measures import test_replay

    inputs = {"replay-good": "\n".join(test_replay.GOOD) + "\n"}
    for name, lines in test_replay.ACCEPTED:
        inputs[f"replay-accepted-{name}"] = "\n".join(lines) + "\n"
    return inputs


def cohort_inputs() -> dict[str, str]:
    """Simulated cohorts, as replay CSV texts by name."""
    inputs = {}
    for name, size, seed in COHORTS:
        stream = io.StringIO()
        write_replay_csv(simulate_cohort(size, seed), stream)
        inputs[name] = stream.getvalue()
    return inputs


def _finding(finding) -> list:
    return [
        finding.participant_id,
        finding.session_number,
        finding.kind,
        finding.severity,
        finding.subscale,
        finding.evidence,
        finding.message,
    ]


def _labels(participants) -> dict[str, str] | None:
    # names for joint cases, so that the split messages' wording of the other member is covered
    if len(participants) < 2:
        return None
    return {pid: f"Member {pid[-1].upper()}" for pid in participants}


def compute_record(text: str, settings_name: str, calibrate: bool) -> dict:
    """Everything the engine says about one input under one settings variant (JSON-ready)."""
    defaults = EngineSettings()
    cases = read_replay(io.StringIO(text), defaults)
    settings = defaults
    if calibrate:
        calibration = compute_calibration(
            obs for parts in cases.values() for obs in parts.values()
        )
        settings = apply_calibration(defaults, calibration)
    settings = dataclasses.replace(settings, **VARIANTS[settings_name])
    record = {"cases": {}}
    for case_id, participants in cases.items():
        result = compute_case(participants, settings, _labels(participants))
        record["cases"][case_id] = {
            "findings": [_finding(f) for f in result.findings],
            "active": [_finding(f) for f in result.active],
            "summaries": {pid: dataclasses.asdict(s) for pid, s in result.summaries.items()},
            "risk": result.risk_score,
        }
    output = io.StringIO()
    run_replay(cases, output, settings)
    record["replay_output"] = output.getvalue()
    # a JSON round trip, so a recomputed record compares equal to a stored one
    return json.loads(json.dumps(record))


def runs(inputs: dict[str, str]) -> list[tuple[str, str, bool]]:
    """(input name, settings variant, calibrate) for every run the golden file records."""
    result = []
    for name in inputs:
        if name.startswith("cohort"):
            for variant in VARIANTS:
                result.append((name, variant, True))
            result.append((name, "default", False))
        else:
            result.append((name, "default", False))
    return result


def build() -> dict:
    inputs = {**cohort_inputs(), **replay_inputs()}
    records = {
        f"{name}|{variant}|{'calibrated' if calibrate else 'defaults'}": compute_record(
            inputs[name], variant, calibrate
        )
        for name, variant, calibrate in runs(inputs)
    }
    return {"inputs": inputs, "records": records}


def load() -> dict:
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as stream:
        return json.load(stream)


def main() -> None:
    data = build()
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    GOLDEN.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    findings = sum(
        len(case["findings"]) for r in data["records"].values() for case in r["cases"].values()
    )
    print(f"{GOLDEN}: {len(data['records'])} runs, {findings} findings, "
          f"{GOLDEN.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
