"""Time of the clinic overview task (measures.tasks.compute_clinic_overviews) for a clinic of 2,000 cases.

    .venv/bin/python bench/overview.py [--cases 2000] [--runs 5] [--url postgres://postgres@127.0.0.1:5432/alliance_bench_overview]

Creates its own PostgreSQL database (dropped and re-created, dropped at the end), bulk-creates one
clinic of ten therapists and `--cases` cases of 16 weekly sessions (synthetic: about 88% of checks
answered, a flag on one case in four with acknowledge/resolve actions, a fifth of the cases closed
with an outcome), then times the task. Prints the median and worst run, the query count and the
cached payload's size; never passes or fails on time.
"""

import argparse
import json
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

SESSIONS = 16
THERAPISTS = 10


def seed(clinic, therapists, count, rng):
    from django.utils import timezone

    from measures.models import Instrument, Response, Signal, SignalAction, SurveyInvitation
    from sessions_app.models import Case, Participant, TherapySession

    now = timezone.now()
    instrument = Instrument.objects.for_clinic(clinic)
    outcomes = [Case.Outcome.COMPLETED, Case.Outcome.DROPPED_OUT, Case.Outcome.REFERRED]
    cases = []
    for i in range(count):
        closed = rng.random() < 0.2
        cases.append(
            Case(
                clinic=clinic,
                therapist=therapists[i % len(therapists)],
                reference=f"O-{i:05d}",
                opened_on=(now - timedelta(days=7 * SESSIONS + 30)).date(),
                status=Case.Status.CLOSED if closed else Case.Status.ACTIVE,
                closed_on=now.date() - timedelta(days=int(rng.integers(1, 100))) if closed else None,
                outcome=outcomes[int(rng.integers(0, 3))] if closed else "",
            )
        )
    cases = Case.objects.bulk_create(cases, batch_size=2000)
    people = Participant.objects.bulk_create(
        (Participant(case=case, display_name=f"Client{case.pk} Bench") for case in cases), batch_size=2000
    )
    person_of = {p.case_id: p for p in people}
    sessions = TherapySession.objects.bulk_create(
        (
            TherapySession(
                case=case,
                scheduled_start=now - timedelta(days=7 * (SESSIONS - k), hours=int(rng.integers(0, 8))),
                status=TherapySession.Status.ATTENDED if rng.random() > 0.08 else TherapySession.Status.NO_SHOW,
            )
            for case in cases
            for k in range(SESSIONS)
        ),
        batch_size=5000,
    )
    attended = [s for s in sessions if s.status == TherapySession.Status.ATTENDED]
    invitations = []
    for session in attended:
        answered = rng.random() < 0.88
        invitations.append(
            SurveyInvitation(
                session=session,
                participant=person_of[session.case_id],
                created_at=session.scheduled_start,
                sent_at=session.scheduled_start,
                expires_at=session.scheduled_start + timedelta(days=4),
                completed_at=session.scheduled_start + timedelta(hours=2) if answered else None,
            )
        )
    invitations = SurveyInvitation.objects.bulk_create(invitations, batch_size=5000)
    responses = []
    for invitation in invitations:
        if invitation.completed_at is None:
            continue
        d = Decimal(str(round(float(rng.uniform(4, 10)) * 2) / 2)).quantize(Decimal("0.01"))
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
            )
        )
    Response.objects.bulk_create(responses, batch_size=5000)
    by_case = {}
    for session in sessions:
        by_case.setdefault(session.case_id, []).append(session)
    signals = []
    for case in cases:
        if rng.random() >= 0.25:
            continue
        session = by_case[case.pk][int(rng.integers(2, SESSIONS))]
        opened = session.scheduled_start + timedelta(hours=3)
        status = ["open", "acknowledged", "resolved", "cleared"][int(rng.integers(0, 4))]
        signals.append(
            Signal(
                case=case,
                participant=person_of[case.pk],
                session=session,
                kind="reliable_drop",
                severity="warning",
                message="Bench flag.",
                status=status,
                opened_at=opened,
                updated_at=opened,
                closed_at=opened + timedelta(days=3) if status in ("resolved", "cleared") else None,
                holds=status != "cleared",
            )
        )
    signals = Signal.objects.bulk_create(signals, batch_size=2000)
    actions = []
    for signal in signals:
        if signal.status in ("acknowledged", "resolved"):
            actions.append(
                SignalAction(signal=signal, action="acknowledged", created_at=signal.opened_at + timedelta(hours=20))
            )
        if signal.status == "resolved":
            actions.append(
                SignalAction(
                    signal=signal,
                    action="resolved",
                    repair="talked_through",
                    suggestion="drop_ask_what_changed",
                    note="Bench note." if rng.random() < 0.7 else "",
                    created_at=signal.opened_at + timedelta(days=3),
                )
            )
    SignalAction.objects.bulk_create(actions, batch_size=2000)
    return len(sessions), len(responses), len(signals)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgres://postgres@127.0.0.1:5432/alliance_bench_overview")
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    with scratch_database(args.url) as url:
        run(args, url)


def run(args, url):
    name = unquote(urlsplit(url).path.lstrip("/"))
    clinic = bench_clinic(url)
    import numpy as np
    from django.db import connection, connections
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from measures.models import ClinicOverview
    from measures.tasks import compute_clinic_overviews

    try:
        therapists = [
            User.objects.create_user(f"t{i}@example.test", "x", full_name=f"Therapist {i}", clinic=clinic)
            for i in range(THERAPISTS)
        ]
        started = time.perf_counter()
        sessions, responses, signals = seed(clinic, therapists, args.cases, np.random.default_rng(args.seed))
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(
            f"PostgreSQL database {name}: {args.cases} cases, {sessions} sessions, {responses} answered checks, "
            f"{signals} flags, {THERAPISTS} therapists (seeded in {time.perf_counter() - started:.1f} s)"
        )
        compute_clinic_overviews(clinic.pk)  # warm-up
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            with CaptureQueriesContext(connection) as captured:
                compute_clinic_overviews(clinic.pk)
            times.append((time.perf_counter() - start) * 1000)
        payload = ClinicOverview.objects.get(clinic=clinic).payload
        print(
            f"compute_clinic_overviews for {args.cases} cases: median {statistics.median(times):.0f} ms, "
            f"worst {max(times):.0f} ms over {args.runs} runs; {len(captured.captured_queries)} queries; "
            f"payload {len(json.dumps(payload)) / 1024:.0f} KiB"
        )
    finally:
        connections.close_all()


if __name__ == "__main__":
    main()
