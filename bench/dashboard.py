"""Server time of the caseload and case pages on PostgreSQL, at 20 and at 200 cases.

    .venv/bin/python bench/dashboard.py [--requests 50] [--url postgres://postgres@127.0.0.1:5432/alliance_bench]

Creates its own database (dropped and re-created on every run, dropped at the end), seeds one
therapist's caseload of 50 weekly sessions per case with answered checks (synthetic data),
evaluates every case with the real engine, and times the pages with Django's test client in
process: middleware, views, queries and templates, no network. Prints medians, 95th
percentiles and query counts; it never passes or fails on time (targets: caseload p95 under
150 ms, the 200-case time under twice the 20-case time).
"""

import argparse
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._db import bench_clinic, scratch_database  # noqa: E402  (after the path is set)

SESSIONS = 50


def seed_cases(therapist, first, count, rng):
    """`count` active cases (every fifth a couple) with SESSIONS weekly sessions each."""
    from django.utils import timezone

    from measures.models import Answer, Instrument, Response, SurveyInvitation
    from sessions_app.models import Case, Participant, TherapySession

    now = timezone.now()
    instrument = Instrument.objects.for_clinic(therapist.clinic)
    cases = Case.objects.bulk_create(
        Case(
            clinic=therapist.clinic,
            therapist=therapist,
            reference=f"B-{first + i:04d}",
            kind=Case.Kind.COUPLE if (first + i) % 5 == 0 else Case.Kind.INDIVIDUAL,
            opened_on=(now - timedelta(days=7 * SESSIONS + 14)).date(),
        )
        for i in range(count)
    )
    people = Participant.objects.bulk_create(
        Participant(case=case, display_name=f"Client{case.pk}{chr(97 + j)} Bench")
        for case in cases
        for j in range(2 if case.kind == Case.Kind.COUPLE else 1)
    )
    members = {}
    for person in people:
        members.setdefault(person.case_id, []).append(person)
    sessions = []
    for case in cases:
        for k in range(SESSIONS):
            attended = rng.random() > 0.08
            start = now - timedelta(days=7 * (SESSIONS - k), hours=int(rng.integers(0, 8)))
            status = TherapySession.Status.ATTENDED if attended else TherapySession.Status.NO_SHOW
            sessions.append(TherapySession(case=case, scheduled_start=start, status=status, status_changed_at=start))
        sessions.append(TherapySession(case=case, scheduled_start=now + timedelta(days=int(rng.integers(1, 7)))))
    sessions = TherapySession.objects.bulk_create(sessions, batch_size=2000)
    # A case's course: a usual level per person, and a decline at the end for about one case in six.
    level = {p.pk: float(rng.uniform(6.5, 9.3)) for p in people}
    declining = {case.pk for case in cases if rng.random() < 0.17}
    position = {}
    invitations, scores = [], []
    for session in sessions:
        if session.status != TherapySession.Status.ATTENDED:
            continue
        k = position[session.case_id] = position.get(session.case_id, -1) + 1
        for person in members[session.case_id]:
            invitation = SurveyInvitation(
                session=session,
                participant=person,
                created_at=session.scheduled_start,
                sent_at=session.scheduled_start,
                expires_at=session.scheduled_start + timedelta(days=4),
            )
            invitations.append(invitation)
            if rng.random() < 0.12:
                scores.append(None)
                continue
            drop = max(0, k - (SESSIONS - 8)) * 0.45 if session.case_id in declining else 0.0
            value = min(10.0, max(0.0, level[person.pk] - drop + float(rng.normal(0, 0.45))))
            invitation.completed_at = session.scheduled_start + timedelta(hours=2)
            scores.append(round(value * 2) / 2)
    invitations = SurveyInvitation.objects.bulk_create(invitations, batch_size=2000)
    responses = []
    for invitation, value in zip(invitations, scores, strict=True):
        if value is None:
            continue
        d = Decimal(str(value)).quantize(Decimal("0.01"))
        responses.append(
            Response(
                invitation=invitation,
                session_id=invitation.session_id,
                participant_id=invitation.participant_id,
                instrument=instrument,
                submitted_at=invitation.completed_at,
                goals=d,
                tasks=d,
                bond=d,
                total=d,
                rupture=0,
                note="Synthetic note" if rng.random() < 0.1 else "",
            )
        )
    responses = Response.objects.bulk_create(responses, batch_size=2000)
    items = [item for item in instrument.items.for_case(cases[0]) if item.kind == "rating"]
    Answer.objects.bulk_create(
        (
            Answer(
                response=response,
                item=item,
                value=max(item.scale_min, min(item.scale_max, round(float(response.total) / 10 * item.scale_max))),
                scale_min=item.scale_min,
                scale_max=item.scale_max,
            )
            for response in responses
            for item in items
        ),
        batch_size=5000,
    )
    return cases


def evaluate(cases):
    from django.db import connection

    from measures.evaluation import do_evaluate_case

    for case in cases:
        do_evaluate_case(case.pk, notify=False)
    # Fresh planner statistics, as autovacuum keeps them on a live database after bulk loading.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def timed(client, url, requests):
    for _ in range(3):  # warm-up: template compilation, connection
        client.get(url)
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    times.sort()
    return statistics.median(times), times[max(0, int(round(0.95 * len(times))) - 1)]


def query_count(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return len(captured.captured_queries)


def measure(client, therapist, label, requests):
    from django.urls import reverse

    from measures.models import CaseEvaluation

    top = CaseEvaluation.objects.filter(case__therapist=therapist).order_by("-risk_score", "case__reference").first()
    caseload_url = reverse("dashboard:caseload")
    case_url = reverse("dashboard:case", args=[top.case_id])
    rows = {}
    for page, url in (("caseload", caseload_url), ("case page", case_url)):
        median, p95 = timed(client, url, requests)
        rows[page] = (median, p95, query_count(client, url))
        print(f"{label:>9} {page:<10} median {median:7.1f} ms   p95 {p95:7.1f} ms   queries {rows[page][2]}")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgres://postgres@127.0.0.1:5432/alliance_bench")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (for profiling)")
    args = parser.parse_args()
    if args.requests < 30:
        parser.error("--requests must be at least 30")

    with scratch_database(args.url, keep=args.keep) as url:
        run(args, url)


def run(args, url):
    """Seed, evaluate and time on the scratch database at `url`."""
    name = unquote(urlsplit(url).path.lstrip("/"))
    clinic = bench_clinic(url)
    import numpy as np
    from django.db import connections
    from django.test import Client

    from accounts.models import User

    try:
        rng = np.random.default_rng(args.seed)
        therapist = User.objects.create_user("bench@example.test", "x", full_name="Bench Therapist", clinic=clinic)
        from tests.builders import verified_login

        # Second factor verified: a bare force_login is sent to the second-factor page (issue 13.1).
        client = verified_login(Client(), therapist)
        print(f"PostgreSQL database {name}: {SESSIONS} sessions per case, {args.requests} timed requests per page")

        started = time.perf_counter()
        cases = seed_cases(therapist, 0, 20, rng)
        evaluate(cases)
        print(f"seeded and evaluated 20 cases in {time.perf_counter() - started:.1f} s")
        small = measure(client, therapist, "20 cases", args.requests)

        started = time.perf_counter()
        cases = seed_cases(therapist, 20, 180, rng)
        evaluate(cases)
        print(f"seeded and evaluated 180 more cases in {time.perf_counter() - started:.1f} s")
        large = measure(client, therapist, "200 cases", args.requests)

        for page in ("caseload", "case page"):
            ratio = large[page][0] / small[page][0]
            print(f"{page}: 200-case median / 20-case median = {ratio:.2f}")
        print(f"caseload p95 at 200 cases: {large['caseload'][1]:.1f} ms (target < 150 ms)")
    finally:
        connections.close_all()


if __name__ == "__main__":
    main()
