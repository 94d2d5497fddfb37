"""Benchmark of the client's survey: bytes transferred and server time of a submission on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/alliance .venv/bin/python bench/survey.py [--submissions 300]

Creates its own database `alliance_bench_survey` next to the one DATABASE_URL names (and drops it at the
end), migrates it, and builds synthetic clinics, cases and invitations. Then it measures:

- the bytes of the survey page and its stylesheet, raw and gzipped (WhiteNoise serves the
  stylesheet precompressed in production; the HTML is gzipped only if the proxy does it);
- the server time of GET and of POST /s/<token>/ through Django's full request stack (middleware,
  lookup, validation, the one transaction), each on a fresh link, reported as median and p95.

With --profile it also counts the queries of one submission and profiles every POST with
cProfile, printing the functions with the most cumulative time (the cost to cut first).

The re-evaluation task is queued on commit; here the queue is a no-op that records the call (as a
broker does), so the figures are the client's wait, not the engine's. It prints figures, never
passes or fails on time.
"""

import argparse
import gzip
import os
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._db import scratch_database  # noqa: E402  (after the path is set)

BENCH_DB = "alliance_bench_survey"  # bench/dashboard.py uses alliance_bench: runs must not collide


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def build_links(count):
    """`count` open invitations, each with a fresh emailed token, spread over 20 therapists' cases."""
    from measures.actions.invitations import do_issue_token
    from measures.models import InvitationToken
    from tests.builders import make_case, make_clinic, make_invitation, make_session, make_user

    clinic = make_clinic("Bench Clinic")
    therapists = [make_user(clinic, name=f"Bench Therapist{n}") for n in range(20)]
    links = []
    for n in range(count):
        case = make_case(therapists[n % len(therapists)])
        session = make_session(case, days_ago=0)
        invitation, token = make_invitation(session, case.participants.get())
        do_issue_token(invitation, InvitationToken.Purpose.REMINDER)  # a second live link, as after a reminder
        links.append(f"/s/{token}/")
    return links


def profile_posts(client, links, answers):
    """Queries of one submission, then cProfile over the rest: the top of the cumulative table."""
    import cProfile
    import io
    import pstats

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(links[0])
    with CaptureQueriesContext(connection) as queries:
        client.post(links[0], answers)
    print(f"Queries of one submission: {len(queries)}")
    for query in queries:
        print(f"  {query['sql'][:110]}")
    profiler = cProfile.Profile()
    for url in links[1:]:
        client.get(url)
        profiler.enable()
        client.post(url, answers)
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(30)
    print(f"cProfile of {len(links) - 1} submissions (POST only), by cumulative time:")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])


def measure(count, profile=False):
    from django.contrib.staticfiles import finders
    from django.test import Client

    from measures.models import Response
    from tests.builders import RATING_CODES

    links = build_links(count + 20)
    warmup, links = links[:20], links[20:]
    answers = {**dict.fromkeys(RATING_CODES, "7"), "rupture": "no", "lang": "en"}
    client = Client(REMOTE_ADDR="198.51.100.1")

    page = client.get(warmup[0]).content
    stylesheet = Path(finders.find("css/survey.css")).read_bytes()
    get_ms, post_ms = [], []
    with mock.patch("measures.tasks.evaluate_case.delay"):
        for url in warmup:
            client.get(url)
            client.post(url, answers)
        for url in links:
            started = time.perf_counter()
            response = client.get(url)
            get_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
            started = time.perf_counter()
            response = client.post(url, answers)
            post_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 302, response.status_code
        if profile:
            extra = build_links(101)
            profile_posts(client, extra, answers)
            links += extra
    assert Response.objects.count() == len(links) + len(warmup)

    def gz(data):
        return len(gzip.compress(data, compresslevel=9))

    print("Survey page transferred (HTML + survey.css; no script, font or image):")
    print(f"  HTML           {len(page):>7,} B raw  {gz(page):>6,} B gzip")
    print(f"  survey.css     {len(stylesheet):>7,} B raw  {gz(stylesheet):>6,} B gzip")
    print(f"  total          {len(page) + len(stylesheet):>7,} B raw  {gz(page) + gz(stylesheet):>6,} B gzip"
          "   (budget 50,000 B)")
    print(f"Server time on PostgreSQL, {len(links)} fresh links, full Django request stack:")
    print(f"  GET  (open)    median {statistics.median(get_ms):6.2f} ms   p95 {percentile(get_ms, 0.95):6.2f} ms")
    print(f"  POST (submit)  median {statistics.median(post_ms):6.2f} ms   p95 {percentile(post_ms, 0.95):6.2f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="queries of one submission and a cProfile table")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("bench/survey.py measures submissions on PostgreSQL: set DATABASE_URL=postgres://user@host:5432/name")
        print(f"(it creates and drops its own database {BENCH_DB!r} on that server)")
        return 2
    with scratch_database(url, BENCH_DB) as bench_url:
        os.environ["DATABASE_URL"] = bench_url
        return run(args)


def run(args):
    """Migrate and measure on the scratch database that DATABASE_URL now names."""
    os.environ.setdefault("ALLIANCE_ENV", "test")  # DEBUG off: no query log slowing the loop down
    os.environ.pop("REDIS_URL", None)  # the cache for rate limits is process memory; tasks are not run
    os.environ.setdefault("SURVEY_RATE_LIMIT_PER_ADDRESS", "1000000")  # one benchmark address posts them all
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance_site.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # building users only
    try:
        call_command("migrate", verbosity=0)
        measure(args.submissions, args.profile)
    finally:
        connections.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
