"""Benchmark of the nightly sweep at size, with one and with two real Celery workers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/alliance .venv/bin/python bench/sweep.py [--cases 2000 10000]

Creates its own database `alliance_bench_sweep` beside the one DATABASE_URL names (dropped at the
end) and its own redis-server on a free port (stopped at the end); bulk-creates N active cases of one
client with ~14 weekly sessions and answered checks each, then for 1 and 2 `celery worker` processes
(solo pool: one task at a time each) sends `nightly_sweep` and waits until every case has an
evaluation newer than the sweep's start. It prints cases per second, how many cases each worker
evaluated (from the workers' own task logs) and the cost per case (seconds of task time per case).
It prints figures; it never passes or fails on time.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._db import scratch_database  # noqa: E402  (after the path is set)

BENCH_DB = "alliance_bench_sweep"
SESSIONS = 14
DONE = re.compile(r"Task measures\.tasks\.evaluate_cases\[[^\]]+\] succeeded in ([0-9.]+)s: (\d+)")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def seed(count):
    """`count` cases, one participant each, SESSIONS weekly attended sessions with a response each."""
    from django.utils import timezone

    from accounts.models import Clinic, User
    from measures.models import Instrument, Response
    from sessions_app.models import Case, Participant, TherapySession

    clinic, _ = Clinic.objects.get_or_create(slug="bench-sweep", defaults={"name": "Bench clinic"})
    therapist = User.objects.filter(clinic=clinic).first() or User.objects.create_user(
        "bench-sweep@example.test", "x" * 12, full_name="Bench", clinic=clinic
    )
    instrument = Instrument.objects.for_clinic(clinic)
    first = Case.objects.count()
    cases = Case.objects.bulk_create(
        Case(clinic=clinic, therapist=therapist, reference=f"S-{n}") for n in range(first, first + count)
    )
    participants = Participant.objects.bulk_create(
        Participant(case=case, display_name=f"Client {case.reference}") for case in cases
    )
    now = timezone.now()
    sessions = TherapySession.objects.bulk_create(
        TherapySession(case=case, scheduled_start=now - timedelta(days=7 * k + 1), status="attended")
        for case in cases
        for k in range(SESSIONS)
    )
    by_case = {p.case_id: p for p in participants}
    responses = []
    for index, session in enumerate(sessions):
        score = 5 + (index * 7 % 5) / 2
        responses.append(
            Response(
                session=session,
                participant=by_case[session.case_id],
                instrument=instrument,
                submitted_at=session.scheduled_start + timedelta(hours=1),
                goals=score,
                tasks=score,
                bond=score,
                total=score,
                rupture=0,
                is_imported=True,
            )
        )
    Response.objects.bulk_create(responses, batch_size=5000)
    return len(cases)


class Workers:
    def __init__(self, count, env):
        self.logs = defaultdict(list)
        self.processes = []
        for n in range(count):
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "alliance_site", "worker", "--pool", "solo",
                 "-n", f"bench{n}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
            threading.Thread(target=self._drain, args=(n, process), daemon=True).start()
            self.processes.append(process)

    def _drain(self, n, process):
        for line in process.stdout:
            self.logs[n].append(line)

    def ready(self):
        return all(any("ready." in line for line in self.logs[n]) for n in range(len(self.processes)))

    def batches(self, n):
        return [(float(s), int(c)) for line in self.logs[n] for s, c in DONE.findall(line)]

    def stop(self):
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def run_sweep(count, workers, env):
    from celery import current_app
    from django.utils import timezone

    from measures.models import CaseEvaluation

    CaseEvaluation.objects.all().delete()
    pool = Workers(workers, env)
    try:
        deadline = time.monotonic() + 60
        while not pool.ready() and time.monotonic() < deadline:
            time.sleep(0.2)
        started_at, started = timezone.now(), time.monotonic()
        current_app.send_task("measures.tasks.nightly_sweep")
        while CaseEvaluation.objects.filter(evaluated_at__gte=started_at).count() < count:
            if time.monotonic() - started > 3600:
                raise SystemExit("the sweep did not finish within an hour")
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        time.sleep(1.0)  # the last batch's log line
    finally:
        pool.stop()
    per_worker = [pool.batches(n) for n in range(workers)]
    task_seconds = sum(s for batches in per_worker for s, _ in batches)
    evaluated = sum(c for batches in per_worker for _, c in batches)
    taken = ", ".join(f"worker {n + 1}: {sum(c for _, c in b)} cases" for n, b in enumerate(per_worker))
    print(
        f"{count:>6} cases, {workers} worker(s): {elapsed:6.1f} s, {count / elapsed:6.1f} cases/s; {taken}; "
        f"{1000 * task_seconds / max(evaluated, 1):.1f} ms of task time per case"
    )
    return task_seconds / max(evaluated, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        raise SystemExit("set DATABASE_URL=postgres://... (the benchmark creates its own database beside it)")
    redis_server = shutil.which("redis-server")
    port = free_port()
    redis_process = subprocess.Popen(
        [redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        with scratch_database(url, BENCH_DB) as bench_url:
            env = {**os.environ, "DATABASE_URL": bench_url, "REDIS_URL": f"redis://127.0.0.1:{port}/0",
                   "ALLIANCE_ENV": "test"}
            os.environ.update(env)
            sys.path.insert(0, str(ROOT))
            import django

            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance_site.settings")
            django.setup()
            from django.core.management import call_command
            from django.db import connection

            call_command("migrate", verbosity=0)
            seeded = 0
            for count in sorted(args.cases):
                seeded += seed(count - seeded)
                for workers in args.workers:
                    run_sweep(count, workers, env)
            connection.close()
    finally:
        redis_process.terminate()
        redis_process.wait()


if __name__ == "__main__":
    main()
