"""Stepped open-loop load on the whole stack: submissions and caseload reads together.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/alliance .venv/bin/python bench/load.py \
        [--rates 10 25 50 75] [--seconds 20] [--wsgi alliance_site.overload:application] [--in-process N]

Starts its own stack: a scratch PostgreSQL database `alliance_bench_load` beside the one DATABASE_URL
names, a private redis-server, gunicorn with gunicorn.conf.py and production settings
(ALLIANCE_ENV=production, EMAIL_URL=none://) on a free loopback port, and a real Celery worker.
Each step sends requests on a fixed schedule whatever the answers (open loop): 80 % survey
submissions on fresh links, 20 % caseload pages of logged-in therapists. After the last step it
polls (up to --drain-timeout s) until the worker has drained and checks in the database that
every 2xx/3xx submission has exactly one response with all its answers ("lost" otherwise) and
that every case answered in the run was evaluated after its last answer ("not evaluated"). It
prints, per step, the achieved rate, p50/p95/p99, refusals (503), errors, and CPU seconds by
process. It never passes or fails.

With --in-process N it starts no gunicorn and no worker: it sends N submissions and N caseload
reads, alternately, through the WSGI application in its own process (same settings, Redis and
database) and prints the CPU of each kind, which a run's gunicorn total cannot tell apart.
"""

import argparse
import http.client
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._db import scratch_database  # noqa: E402  (after the path is set)

BENCH_DB = "alliance_bench_load"
RATINGS = ("goals_focus", "goals_agree", "tasks_sense", "tasks_fit", "bond_heard", "bond_trust")
BODY = "&".join([f"{code}=6" for code in RATINGS] + ["rupture=no", "lang=en"]).encode()
HOST = "alliance.bench.test"
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float("nan")


def cpu_seconds(pid):
    """User + system CPU of a process and its children that have exited (/proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICK


def children(pid):
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def postgres_pids():
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(entry, "comm").read_text().strip() in {"postgres", "postmaster"}:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


invitation_of = {}


def seed(links_needed, therapists=20):
    from django.test import Client

    from tests.builders import (
        make_case,
        make_clinic,
        make_invitation,
        make_response,
        make_session,
        make_user,
        verified_login,
    )

    clinic = make_clinic("Load clinic")
    staff = [make_user(clinic, name=f"Load Therapist{n}") for n in range(therapists)]
    cookies = []
    for user in staff:
        # Second factor verified: a bare force_login is sent to the second-factor page (a redirect,
        # not the caseload) since staff pages need a verified session (issue 13.1).
        client = verified_login(Client(), user)
        cookies.append("; ".join(f"{k}={v.value}" for k, v in client.cookies.items()))
    links = []
    cases = max(links_needed // 4, 1)
    for n in range(cases):
        case = make_case(staff[n % therapists])
        participant = case.participants.get()
        for days_ago in (35, 28):
            make_response(make_session(case, days_ago=days_ago), participant)
        for days_ago in (21, 14, 7, 0):
            invitation, token = make_invitation(make_session(case, days_ago=days_ago), participant, days_valid=30)
            links.append(f"/s/{token}/")
            invitation_of[f"/s/{token}/"] = invitation.pk
    return links[:links_needed] if len(links) >= links_needed else links, cookies


def request(port, method, path, *, body=None, cookie=None):
    headers = {"Host": HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": f"10.9.{secrets.randbelow(250)}.1"}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if cookie:
        headers["Cookie"] = cookie
    started = time.monotonic()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        status = response.status
        connection.close()
    except OSError:
        status = 0
    return status, time.monotonic() - started


def step(port, rate, seconds, links, cookies, results):
    """Send `rate` requests a second for `seconds` on schedule; returns (sent, wall seconds)."""
    count = rate * seconds
    pool = ThreadPoolExecutor(max_workers=300)
    futures = []
    start = time.monotonic()
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if i % 5 == 4:
            futures.append(("read", pool.submit(request, port, "GET", "/caseload/", cookie=cookies[i % len(cookies)])))
        else:
            path = links.pop()
            futures.append((path, pool.submit(request, port, "POST", path, body=BODY)))
    pool.shutdown(wait=True)
    wall = time.monotonic() - start
    for kind, future in futures:
        results.append((rate, kind, *future.result()))
    return count, wall


def check(results):
    """lost: accepted submissions without exactly one full response; not evaluated: cases answered
    in this run whose evaluation is older than their last answer (or missing). Cases seeded with
    answers but never submitted to in the run are not counted: no answer of theirs came in."""
    from django.db.models import Count, Max

    from measures.models import CaseEvaluation, Response

    accepted = {invitation_of[kind] for _, kind, status, _ in results if kind != "read" and 200 <= status < 400}
    full = len(RATINGS) + 1
    responses = Response.objects.filter(invitation_id__in=accepted).annotate(n=Count("answers"))
    complete = {r.invitation_id for r in responses if r.n == full}  # at most one each: a OneToOne
    lost = len(accepted - complete)
    cases = Response.objects.filter(invitation_id__in=accepted).values("session__case_id")
    answers = Response.objects.filter(session__case_id__in=cases).values("session__case_id")
    last = dict(answers.annotate(at=Max("submitted_at")).values_list("session__case_id", "at"))
    evaluated = dict(CaseEvaluation.objects.filter(case_id__in=last).values_list("case_id", "evaluated_at"))
    stale = sum(1 for case_id, at in last.items() if case_id not in evaluated or evaluated[case_id] < at)
    return len(accepted), len(complete), lost, stale, len(last)


def drained(results, timeout):
    """Poll check() until every answered case is evaluated or ``timeout`` seconds have passed;
    return its figures and the seconds it took."""
    started = time.monotonic()
    while True:
        figures = check(results)
        if figures[3] == 0 or time.monotonic() - started > timeout:
            return figures, time.monotonic() - started
        time.sleep(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[10, 25, 50, 75])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--wsgi", default="alliance_site.overload:application")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn processes (default: gunicorn.conf.py)")
    parser.add_argument("--drain-timeout", type=float, default=120, help="seconds to wait for the evaluations")
    parser.add_argument("--in-process", type=int, metavar="N", default=0,
                        help="no gunicorn: N submissions and N caseload reads through the WSGI application in "
                             "this process, printing the CPU of each kind (what gunicorn spends, by kind)")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        raise SystemExit("set DATABASE_URL=postgres://... (the benchmark creates its own database beside it)")
    redis_port, web_port = free_port(), free_port()
    redis_process = subprocess.Popen(
        [shutil.which("redis-server"), "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    processes = {}
    try:
        with scratch_database(url, BENCH_DB) as bench_url:
            env = {
                **os.environ,
                "DATABASE_URL": bench_url,
                "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                "ALLIANCE_ENV": "production",
                "SECRET_KEY": secrets.token_urlsafe(40),
                "ALLOWED_HOSTS": HOST,
                "EMAIL_URL": "none://",
                "SURVEY_RATE_LIMIT_PER_ADDRESS": "100000",
                "GUNICORN_BIND": f"127.0.0.1:{web_port}",
            }
            if args.workers:
                env["GUNICORN_WORKERS"] = str(args.workers)
            os.environ.update(env)
            os.environ["DJANGO_SETTINGS_MODULE"] = "alliance_site.settings"
            import django

            django.setup()
            from django.core.management import call_command
            from django.db import connection

            call_command("migrate", verbosity=0)
            call_command("collectstatic", "--noinput", verbosity=0)  # production serves the manifest
            if args.in_process:
                links, cookies = seed(args.in_process + 30)
                connection.close()
                return cpu_by_kind(args.in_process, links, cookies)
            needed = sum(int(r * args.seconds * 0.8) + 1 for r in args.rates)
            print(f"seeding {needed} links ...", flush=True)
            links, cookies = seed(needed + 10)
            connection.close()
            processes["gunicorn"] = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", args.wsgi, "--log-level", "warning"],
                cwd=ROOT, env=env,
            )
            processes["worker"] = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "alliance_site", "worker", "-c", "2", "-l", "WARNING",
                 "--without-gossip", "--without-mingle", "--without-heartbeat"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 60
            while request(web_port, "GET", "/login/")[0] != 200:
                if time.monotonic() > deadline:
                    raise SystemExit("gunicorn did not come up")
                time.sleep(0.5)
            status, _ = request(web_port, "GET", "/caseload/", cookie=cookies[0])
            if status != 200:
                raise SystemExit(f"a therapist's caseload answered {status}, not 200: the reads would not be caseloads")
            time.sleep(3)  # the worker connects
            results = []
            print(f"{'offered/s':>9} {'achieved/s':>10} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
                  f"{'503':>5} {'errors':>6}  CPU s (gunicorn / worker / postgres)")
            for rate in args.rates:
                cpu_before = snapshot(processes)
                sent, wall = step(web_port, rate, args.seconds, links, cookies, results)
                cpu = {k: v - cpu_before[k] for k, v in snapshot(processes).items()}
                mine = [r for r in results if r[0] == rate]
                ok = [seconds for *_, status, seconds in mine if 200 <= status < 400]
                refused = sum(1 for *_, status, _ in mine if status == 503)
                errors = sum(1 for *_, status, _ in mine if not (200 <= status < 400) and status != 503)
                print(f"{rate:>9} {len(ok) / wall:>10.1f} {1000 * percentile(ok, .5):>7.0f} "
                      f"{1000 * percentile(ok, .95):>7.0f} {1000 * percentile(ok, .99):>7.0f} {refused:>5} "
                      f"{errors:>6}  {cpu['gunicorn']:.1f} / {cpu['worker']:.1f} / {cpu['postgres']:.1f}"
                      f"  {1000 * cpu['gunicorn'] / len(mine):.1f}", flush=True)
            (accepted, complete, lost, stale, cases), waited = drained(results, args.drain_timeout)
            print(f"submissions accepted {accepted}, stored complete {complete}, lost {lost}; "
                  f"cases answered {cases}, not evaluated {stale} after {waited:.0f} s of draining")
            connection.close()
            for process in processes.values():
                process.send_signal(signal.SIGTERM)
            for name, process in processes.items():
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:  # the figures are printed; say so and kill it (finally)
                    print(f"{name} did not stop within 30 s of SIGTERM: killed", flush=True)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
        redis_process.terminate()
        redis_process.wait()


def cpu_by_kind(count, links, cookies):
    """CPU ms of a submission and of a caseload read through the WSGI application in this process
    (production settings, Redis, PostgreSQL; no HTTP server, and tasks are only queued: no worker).
    Alternated, after ten of each to warm the process up; prints means and medians."""
    import io
    import statistics

    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()

    def call(method, path, body=b"", cookie=""):
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": HOST,
            "SERVER_PORT": "443", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": HOST, "REMOTE_ADDR": "127.0.0.1",
            "HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_FOR": f"10.9.{secrets.randbelow(250)}.1",
            "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(body)),
            "HTTP_COOKIE": cookie, "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http", "wsgi.version": (1, 0), "wsgi.multithread": True,
            "wsgi.multiprocess": True, "wsgi.run_once": False,
        }
        statuses = []
        started = time.process_time()
        b"".join(application(environ, lambda status, headers, exc_info=None: statuses.append(status)))
        return statuses[0], time.process_time() - started

    cpu = {"submission": [], "caseload": []}
    for n in range(count + 10):
        for kind, (status, seconds) in (
            ("submission", call("POST", links.pop(), BODY)),
            ("caseload", call("GET", "/caseload/", cookie=cookies[n % len(cookies)])),
        ):
            expected = "302" if kind == "submission" else "200"
            if not status.startswith(expected):
                raise SystemExit(f"a {kind} answered {status}, not {expected}")
            if n >= 10:
                cpu[kind].append(1000 * seconds)
    for kind, values in cpu.items():
        print(f"{kind:<10} CPU per request: mean {statistics.mean(values):5.1f} ms  "
              f"median {statistics.median(values):5.1f} ms  ({len(values)} requests)")
    mix = 0.8 * statistics.mean(cpu["submission"]) + 0.2 * statistics.mean(cpu["caseload"])
    print(f"the load mix (80 % submissions, 20 % caseload reads): {mix:.1f} ms per request")


def snapshot(processes):
    def tree(pid):
        return cpu_seconds(pid) + sum(tree(child) for child in children(pid))

    return {
        "gunicorn": tree(processes["gunicorn"].pid),
        "worker": tree(processes["worker"].pid),
        "postgres": sum(cpu_seconds(pid) for pid in postgres_pids()),
    }


if __name__ == "__main__":
    main()
