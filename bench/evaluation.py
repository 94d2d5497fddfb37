"""Benchmark of the re-evaluation task: one case's load + engine + reconciliation on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/alliance .venv/bin/python bench/evaluation.py [--cases 200]

Creates its own database `alliance_bench_eval` beside the one DATABASE_URL names (dropped at the
end), seeds cases drawn from the engine's simulator (individuals, couples, families; ~10-20
sessions each, item-level answers), then times `do_evaluate_case` — exactly what the Celery task
runs — as median and p95 over every case: the first evaluation (flags created) and a repeat
(nothing changes: the idempotent path the nightly sweep takes). It also prints the query count of
one evaluation. With --profile, a cProfile table of repeat evaluations and the share of their
time spent in the engine (compute_case) against loading and reconciling. It prints figures; it
never passes or fails on time.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._db import scratch_database  # noqa: E402  (after the path is set)

BENCH_DB = "alliance_bench_eval"


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def seed(count):
    """`count` cases of simulated history, stored the way submissions store them."""
    import numpy as np

    from accounts.models import Clinic, User
    from measures.management.commands.seed_demo import Command as Seed
    from measures.simulation import PATTERNS, simulate_case
    from sessions_app.models import Case, Participant

    clinic = Clinic.objects.create(name="Bench clinic", slug="bench")
    therapist = User.objects.create_user("bench@example.test", "x" * 12, full_name="Bench T", clinic=clinic)
    instrument_seeder = Seed()
    from measures.models import Instrument

    instrument = Instrument.objects.for_clinic(clinic)
    rng = np.random.default_rng(7)
    from django.utils import timezone

    today = timezone.localdate()
    kinds = {"split_couple": "couple", "couple_completer": "couple", "family_completer": "family"}
    cases = []
    for number in range(count):
        pattern = PATTERNS[number % len(PATTERNS)]
        simulated = simulate_case(pattern, rng, int(rng.integers(10, 21)), case_id=f"B{number}")
        n_sessions = max(len(obs) for obs in simulated.participants.values())
        first_day = today - __import__("datetime").timedelta(days=7 * n_sessions)
        case = Case.objects.create(
            clinic=clinic, therapist=therapist, reference=f"B-{number}", kind=kinds.get(pattern, "individual")
        )
        participants = [
            Participant.objects.create(case=case, display_name=f"Client {number}{chr(97 + i)}", language="en")
            for i in range(len(simulated.participants))
        ]
        instrument_seeder._history(case, participants, simulated, first_day, instrument)
        cases.append(case.pk)
    return cases


def profile_evaluations(cases, do_evaluate_case):
    """cProfile over one repeat evaluation of every case: the top of the cumulative table, and the
    engine's share (compute_case) of the task's time."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for case_id in cases:
        do_evaluate_case(case_id, notify=False)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    total = sum(row[3] for key, row in stats.stats.items() if key[2] == "do_evaluate_case")
    engine = sum(row[3] for key, row in stats.stats.items() if key[2] == "compute_case")
    stats.print_stats(r"measures|django/db", 25)
    print(f"cProfile of {len(cases)} repeat evaluations: {total:.2f} s in do_evaluate_case, "
          f"{engine:.2f} s ({engine / total:.0%}) in the engine's compute_case")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="a cProfile table of repeat evaluations")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("bench/evaluation.py measures PostgreSQL: set DATABASE_URL=postgres://user@host:5432/name")
        return 2
    with scratch_database(url, BENCH_DB) as bench_url:
        os.environ["DATABASE_URL"] = bench_url
        return run(args)


def run(args):
    """Seed and time on the scratch database that DATABASE_URL now names."""
    os.environ["ALLIANCE_ENV"] = "test"
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance_site.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from measures.evaluation import do_evaluate_case
    from measures.models import Response, Signal

    try:
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        cases = seed(args.cases)
        print(
            f"Seeded {len(cases)} cases, {Response.objects.count()} answered checks "
            f"in {time.perf_counter() - started:.1f} s"
        )
        for label in ("first evaluation (flags opened)", "repeat evaluation (no change)"):
            timings = []
            for case_id in cases:
                t0 = time.perf_counter()
                do_evaluate_case(case_id, notify=False)
                timings.append((time.perf_counter() - t0) * 1000)
            print(
                f"do_evaluate_case, {label}: median {statistics.median(timings):.1f} ms, "
                f"p95 {percentile(timings, 0.95):.1f} ms, max {max(timings):.1f} ms over {len(timings)} cases"
            )
        with CaptureQueriesContext(connection) as queries:
            do_evaluate_case(cases[len(cases) // 2], notify=False)
        print(f"queries for one evaluation: {len(queries)}; open flags in the clinic: {Signal.objects.open().count()}")
        if args.profile:
            profile_evaluations(cases, do_evaluate_case)
    finally:
        connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
