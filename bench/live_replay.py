"""Live equals replay: a simulated clinic run through the real app, compared with `replay`.

    .venv/bin/python bench/live_replay.py [--clients 60] [--weeks 12] [--seed 9]
        [--url postgres://postgres@127.0.0.1:5432/alliance_live_bench]   (default: a temporary SQLite file)
        [--strictness 1.4] [--sensitivity cautious] [--engagement-rate 0.2]

Weeks of calendar time pass under time-machine. Each case's course is drawn by
measures.simulation (so declines, ruptures and dropouts happen): the therapist schedules each
session (sessions_app's do_schedule_session), records it attended or a no-show some time after
it started (do_record_session, which creates and emails the checks), and each client answers
through do_submit_response after a delay of minutes to days, or never. Beat runs the real
periodic tasks at their crontab times (send_due_reminders, evaluate_expired_checks,
nightly_sweep); every evaluation is the real evaluate_case task (eager).

At the end the history is exported in the replay format, pending checks marked
(measures.engine.replay.write_history), and replayed by the `replay` command with the options
the clinic's export page names (measures.exports.replay.replay_options). The clinic's
calibration is not refitted during the run (do_calibrate_clinic is a no-op): the nightly sweep
would otherwise change the engine's settings mid-run, and a flag opened under last week's
settings is not a finding of today's. --strictness, --sensitivity and --engagement-rate give the
clinic a stored calibration and a flag sensitivity before the run, as a calibrated clinic has;
both paths then use them with the instrument's psychometrics and the clinic's cutoff.

Equal means: the multiset of (client, kind, session number, severity) of every finding replay
raises (each onset and each escalation) equals that of every finding the live flag history
records: each flag's onset and escalations, as re-dated when a check that arrived late moved an
onset earlier, and the flags recorded "seen late" (opened and cleared, no email) for findings
that had already passed when their check arrived (measures.evaluation._Ledger keeps the list;
each entry is checked against a line of its flag's history). Every difference is printed, and
the flags opened or escalated while the check of their own session was still pending are
counted (they must be 0).

With sessions closer than the checks' expiry (--gap 3, --gap 2) a check is often still pending
as the next session is recorded; the live app judges the later session at once (an alert is
never held back for a slow check) and brings the history in line when the earlier check
settles. The run prints how many checks settled out of order, how many flags were re-dated and
how many findings were seen late.
"""

from __future__ import annotations

import argparse
import csv
import heapq
import io
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
BEAT_STEP = timedelta(minutes=15)  # the finest crontab of CELERY_BEAT_SCHEDULE
BEAT_TASKS = ("send-due-reminders", "evaluate-expired-checks", "nightly-sweep")


@dataclass(order=True)
class _Event:
    at: datetime
    order: int
    what: str = field(compare=False)
    args: tuple = field(compare=False, default=())


@dataclass
class LiveFlag:
    """A flag the live app opened or escalated, as it stood at that moment."""

    participant_id: int
    kind: str
    severity: str
    session_id: int | None
    action: str
    at: datetime
    on_pending_check: bool


@dataclass
class Run:
    clients: int = 0
    cases: int = 0
    sessions: int = 0
    attended: int = 0
    submitted: int = 0
    never_answered: int = 0
    reminders: int = 0
    evaluations_on_expiry: int = 0
    out_of_order: int = 0
    redated: int = 0  # open flags re-dated to an earlier onset when a late check arrived
    seen_late: int = 0  # findings recorded as opened and cleared: they had passed when their check arrived
    unbacked: list = field(default_factory=list)  # recorded findings without a history line (must be none)
    end: datetime | None = None
    flags: list[LiveFlag] = field(default_factory=list)


def _fired(schedule, after, upto):
    """Whether a crontab fired in (after, upto] (UTC, CELERY_TIMEZONE), on BEAT_STEP slots."""
    moment = upto
    while moment > after:
        if (
            moment.minute in schedule.minute
            and moment.hour in schedule.hour
            and moment.isoweekday() % 7 in schedule.day_of_week
        ):
            return True
        moment -= BEAT_STEP
    return False


def _item_values(items, goals, tasks, bond, rupture):
    """Answers to the instrument's items giving (as nearly as the items allow) these 0–10 scores."""
    wanted = {"goals": goals, "tasks": tasks, "bond": bond, "shared": (goals + tasks + bond) / 3}
    values, seen = {}, {}
    for item in items:
        if item.kind == "rating":
            # two items per subscale: floor and ceiling of the wanted mean, so x.5 is exact on 0–10
            on_scale = item.scale_min + wanted[item.subscale] / 10 * (item.scale_max - item.scale_min)
            nth = seen[item.subscale] = seen.get(item.subscale, -1) + 1
            value = int(on_scale) if nth % 2 == 0 else -int(-on_scale // 1)
            values[item.code] = max(item.scale_min, min(item.scale_max, value))
    if rupture is not None:
        values["rupture"] = rupture != 0
        if rupture:
            values["rupture_discussed"] = rupture == 2
    return values


def simulate_clinic(clinic, therapist, *, clients, weeks, seed, beat_step=BEAT_STEP, gap_days=None, progress=None):
    """Drive the clinic through the real actions and tasks for `weeks` weeks. Returns a Run.

    Beat wakes every `beat_step` and runs each periodic task whose crontab fired since its last
    wake: every 15 minutes is the real schedule; a coarser step (the CI test) runs the same tasks
    less often, which must not change what is found, only when. `gap_days` fixes the days between
    sessions (default: each course's own, mostly a week); shorter than the checks' expiry, a
    check is still pending when the next session is recorded.

    Must run outside a transaction (work is committed as it would be by requests and the worker,
    so tasks queued on commit run, eagerly) and with Celery eager.
    """
    import numpy as np
    import time_machine
    from django.conf import settings
    from django.db import transaction
    from django.db.models.signals import post_save
    from django.utils import timezone

    from measures import evaluation as live_evaluation
    from measures import tasks
    from measures.actions.responses import do_submit_response
    from measures.actions.sessions import do_record_session
    from measures.models import Instrument, Response, SignalAction, SurveyInvitation
    from measures.simulation import simulate_cohort
    from sessions_app.actions import do_create_case, do_schedule_session
    from sessions_app.models import Case, TherapySession

    rng = np.random.default_rng(seed)
    run = Run()
    instrument = Instrument.objects.for_clinic(clinic)
    end = START + timedelta(weeks=weeks)
    events: list[_Event] = []
    counter = iter(range(10**9))

    def push(at, what, *args):
        heapq.heappush(events, _Event(at, next(counter), what, args))

    # Each simulated case becomes a real case; its course says who attends and what they answer.
    plans = {}
    size = 0
    cohort = []
    while size < clients:
        (simulated,) = simulate_cohort(1, seed * 1000 + len(cohort))
        cohort.append(simulated)
        size += len(simulated.participants)
    with time_machine.travel(START, tick=False):
        for index, simulated in enumerate(cohort):
            kind = {1: Case.Kind.INDIVIDUAL, 2: Case.Kind.COUPLE}.get(len(simulated.participants), Case.Kind.FAMILY)
            case = do_create_case(
                clinic=clinic,
                reference=f"LR-{index:04d}",
                kind=kind,
                therapist=therapist,
                participants=[
                    {"display_name": f"Client{index}{chr(97 + j)} Live", "email": f"c{index}{j}@example.test"}
                    for j in range(len(simulated.participants))
                ],
                acting_user=therapist,
            )
            people = list(case.participants.order_by("pk"))
            plans[case.pk] = {
                "case": case,
                "courses": dict(zip(people, simulated.participants.values(), strict=True)),
                "items": instrument.items.for_case(case),
            }
            run.clients += len(people)
            # first session in the first two weeks, during working hours
            first = START + timedelta(days=int(rng.integers(0, 14)), hours=int(rng.integers(0, 9)))
            push(first - timedelta(days=int(rng.integers(1, 7))), "schedule", case.pk, 0, first)
    run.cases = len(plans)

    def simulate_event(event):
        plan = plans[event.args[0]]
        case = plan["case"]
        if event.what == "schedule":
            _case_id, k, start = event.args
            session = do_schedule_session(case, start, acting_user=therapist)
            run.sessions += 1
            # recorded after the session: usually within the hour, sometimes the next morning
            delay = timedelta(minutes=int(rng.integers(50, 120)))
            if rng.random() < 0.15:
                delay = timedelta(hours=int(rng.integers(14, 30)))
            push(start + delay, "record", case.pk, k, session.pk)
        elif event.what == "record":
            _case_id, k, session_id = event.args
            session = TherapySession.objects.select_related("case__clinic").get(pk=session_id)
            courses = plan["courses"]
            observation = next(iter(courses.values()))[k]
            status = TherapySession.Status.ATTENDED if observation.attended else TherapySession.Status.NO_SHOW
            do_record_session(session, status, acting_user=therapist)
            if observation.attended:
                run.attended += 1
                for person, course in courses.items():
                    obs = course[k]
                    invitation = SurveyInvitation.objects.filter(session=session, participant=person).first()
                    if invitation is None or obs.total is None:
                        run.never_answered += 1
                        continue
                    # minutes to days: lognormal around two hours, some after the reminder
                    minutes = float(np.exp(rng.normal(np.log(120), 1.6)))
                    answer_at = invitation.created_at + timedelta(minutes=max(2.0, minutes))
                    if answer_at >= invitation.expires_at - timedelta(minutes=5):
                        run.never_answered += 1  # too late: the link has expired
                        continue
                    push(answer_at, "answer", case.pk, k, invitation.pk)
            # the next session, as the course has it (a week on, sometimes 4, 10 or 14 days)
            course = next(iter(courses.values()))
            if k + 1 < len(course):
                gap = gap_days or (course[k + 1].session_date - course[k].session_date).days
                start = session.scheduled_start + timedelta(days=gap)
                push(start - timedelta(days=int(rng.integers(1, min(gap, 6) + 1))), "schedule", case.pk, k + 1, start)
        elif event.what == "answer":
            _case_id, k, invitation_id = event.args
            invitation = SurveyInvitation.objects.select_related("session__case").get(pk=invitation_id)
            person = next(p for p in plan["courses"] if p.pk == invitation.participant_id)
            obs = plan["courses"][person][k]
            values = _item_values(plan["items"], obs.goals, obs.tasks, obs.bond, obs.rupture)
            do_submit_response(invitation, values, items=plan["items"])
            run.submitted += 1

    beat = {name: settings.CELERY_BEAT_SCHEDULE[name] for name in BEAT_TASKS}
    runners = {
        "send-due-reminders": tasks.send_due_reminders,
        "evaluate-expired-checks": tasks.evaluate_expired_checks,
        "nightly-sweep": tasks.nightly_sweep,
    }
    def record_flag(sender, instance, created, **kwargs):
        """Every flag the reconcile opens or escalates, as it stands at that moment."""
        if not created or instance.action not in ("opened", "escalated"):
            return
        now = timezone.now()
        signal = instance.signal
        session = TherapySession.objects.filter(pk=signal.session_id).first()
        pending = False
        if session is not None:
            own = {"session": session, "participant_id": signal.participant_id}
            answered = Response.objects.filter(**own).exists()
            pending = not answered and live_evaluation.is_check_pending(
                session, SurveyInvitation.objects.filter(**own).first(), now
            )
        flag = LiveFlag(
            signal.participant_id, signal.kind, instance.severity or signal.severity, signal.session_id,
            instance.action, now, pending,
        )
        transaction.on_commit(lambda: run.flags.append(flag))  # a rolled-back reconcile opened nothing

    # No calibration: the engine's settings stay those of the instrument and the clinic (see above).
    original_calibrate = tasks.do_calibrate_clinic
    tasks.do_calibrate_clinic = lambda clinic, now=None: None
    post_save.connect(record_flag, sender=SignalAction, dispatch_uid="live_replay")
    try:
        with time_machine.travel(START, tick=False) as traveller:
            moment = START
            while moment <= end:
                while events and events[0].at <= moment:
                    event = heapq.heappop(events)
                    if event.at > end:
                        break
                    traveller.move_to(event.at)
                    simulate_event(event)
                traveller.move_to(moment)
                for name, entry in beat.items():
                    if _fired(entry["schedule"], moment - beat_step, moment):
                        result = runners[name]()
                        if name == "send-due-reminders":
                            run.reminders += result or 0
                        elif name == "evaluate-expired-checks":
                            run.evaluations_on_expiry += result or 0
                if progress and (moment - START) % timedelta(weeks=1) < beat_step and moment > START:
                    progress(f"week {(moment - START).days // 7} done")
                moment += beat_step
    finally:
        tasks.do_calibrate_clinic = original_calibrate
        post_save.disconnect(dispatch_uid="live_replay", sender=SignalAction)
    run.end = end
    return run


def export_history(clinic, now):
    """The clinic's history as a replay CSV (text), pending checks marked."""
    from measures.engine.replay import write_history
    from measures.evaluation import load_observations
    from sessions_app.models import Case

    cases = {}
    for case in Case.objects.filter(clinic=clinic).order_by("pk"):
        _participants, _sessions, series = load_observations(case, now=now)
        cases[str(case.pk)] = series
    stream = io.StringIO()
    write_history(cases, stream)
    return stream.getvalue()


def replay_findings(clinic, history_csv):
    """Run the `replay` command on the exported history with the options the clinic's export page
    names (measures.exports.replay.replay_options: the settings the live app used, its stored
    strictness included). Returns a list of (client_id, kind, session_number, severity)."""
    from django.core.management import call_command

    from measures.evaluation import engine_settings_parts
    from measures.exports.replay import replay_options

    clinic.refresh_from_db()  # the calibration as stored, not as cached on this instance
    options = replay_options(*engine_settings_parts(clinic))
    with tempfile.TemporaryDirectory() as directory:
        source, target = Path(directory) / "history.csv", Path(directory) / "flags.csv"
        source.write_text(history_csv, encoding="utf-8")
        call_command("replay", str(source), "--output", str(target), *options, stdout=io.StringIO())
        with target.open(newline="", encoding="utf-8") as stream:
            return [
                (row["client_id"], row["signal"], int(row["session_number"]), row["severity"])
                for row in csv.DictReader(stream)
            ]


def keep_settings(clinic, *, strictness=None, sensitivity=None, engagement_rate=None):
    """Give the clinic a flag sensitivity and a stored calibration (strictness, usual rate of
    missed checks) as its nightly calibration would, before the run: the run then tests that the
    export's options carry them to `replay`."""
    from measures.models import ClinicCalibration, Instrument

    if sensitivity is not None:
        clinic.sensitivity = sensitivity
        clinic.save(update_fields=["sensitivity"])
    if strictness is not None or engagement_rate is not None:
        ClinicCalibration.objects.update_or_create(
            clinic=clinic,
            defaults={
                "instrument": Instrument.objects.latest_version(clinic.instrument_code),
                "strictness": strictness,
                "engagement_rate": engagement_rate,
            },
        )


def live_findings(run, now):
    """The findings the live flag history records, as (client_id, kind, session_number, severity),
    numbered as the export: each flag's onset and escalations, re-dated where a late check moved
    an onset, and the flags recorded as "seen late" (opened and cleared) for findings that had
    already passed when their check arrived. The reconcile keeps them in CaseEvaluation.summary
    (measures.evaluation.RECORDED); each is checked against a line of the flag's history."""
    from measures.evaluation import RECORDED
    from measures.models import CaseEvaluation, SignalAction
    from sessions_app.models import TherapySession

    number = {}
    by_case = {}
    for session in TherapySession.objects.all():
        by_case.setdefault(session.case_id, []).append(session)
    for sessions in by_case.values():
        for n, session in enumerate(TherapySession.counted(sessions, now), start=1):
            number[session.pk] = n
    lines = Counter(
        SignalAction.objects.filter(action__in=("opened", "escalated", "updated")).exclude(severity="")
        .values_list("signal_id", "severity")
    )
    found, unbacked = [], []
    for summary in CaseEvaluation.objects.values_list("summary", flat=True):
        for pid, figures in summary.items():
            for kind, session_id, severity, signal_id in figures.get(RECORDED, []):
                found.append((pid, kind, number.get(session_id), severity))
                if lines[(signal_id, severity)]:
                    lines[(signal_id, severity)] -= 1
                else:
                    unbacked.append((pid, kind, number.get(session_id), severity, signal_id))
    run.unbacked = unbacked
    late = SignalAction.objects.exclude(note="")
    run.redated = late.filter(action="updated", note__startswith="An earlier check arrived late").count()
    run.seen_late = late.filter(action__in=("opened", "escalated"), note__startswith="Seen late").count()
    return found


def compare(live, replay):
    """Every difference: (side that has it, finding, how many more)."""
    live_count, replay_count = Counter(live), Counter(replay)
    differences = []
    for key in sorted(set(live_count) | set(replay_count), key=str):
        extra = live_count[key] - replay_count[key]
        if extra:
            differences.append(("live only" if extra > 0 else "replay only", key, abs(extra)))
    return differences


def settled_out_of_order(now):
    """How many times a participant's check settled (answered, expired, or the session missed)
    after the check of their next session: the live app then saw a later session before an
    earlier one, the hardest case for live = replay."""
    from measures.models import SurveyInvitation
    from sessions_app.models import Participant, TherapySession

    settled = {(i.participant_id, i.session_id): i.completed_at or i.expires_at for i in SurveyInvitation.objects.all()}
    by_case = {}
    for session in TherapySession.objects.all():
        by_case.setdefault(session.case_id, []).append(session)
    count = 0
    for participant in Participant.objects.all():
        times = [
            settled.get((participant.pk, s.pk), s.status_changed_at or s.scheduled_start)
            for s in TherapySession.counted(by_case.get(participant.case_id, []), now)
        ]
        count += sum(1 for a, b in zip(times, times[1:], strict=False) if a > b)
    return count


def run_and_compare(clinic, therapist, *, clients, weeks, seed, beat_step=BEAT_STEP, gap_days=None, progress=None):
    """The whole check: returns (run, live, replay, differences)."""
    run = simulate_clinic(
        clinic, therapist, clients=clients, weeks=weeks, seed=seed, beat_step=beat_step, gap_days=gap_days,
        progress=progress,
    )
    run.out_of_order = settled_out_of_order(run.end)
    history = export_history(clinic, run.end)
    replayed = replay_findings(clinic, history)
    live = live_findings(run, run.end)
    return run, live, replayed, compare(live, replayed)


def report(run, live, replayed, differences, seconds, out=print):
    pending_rows = sum(1 for flag in run.flags if flag.on_pending_check)
    out(
        f"{run.clients} clients in {run.cases} cases over {(run.end - START).days // 7} weeks: {run.sessions} sessions "
        f"scheduled, {run.attended} attended, {run.submitted} checks answered, {run.never_answered} never answered, "
        f"{run.reminders} reminders, {run.evaluations_on_expiry} evaluations on expiry; "
        f"{run.out_of_order} checks settled after the next session's"
    )
    by_severity = Counter(severity for *_rest, severity in live)
    out(f"live flags opened or escalated: {len(live)} ({dict(sorted(by_severity.items()))})")
    by_severity = Counter(severity for *_rest, severity in replayed)
    out(f"replay findings:                {len(replayed)} ({dict(sorted(by_severity.items()))})")
    out(f"flags opened on a pending check: {pending_rows}")
    out(f"late checks: {run.redated} flags re-dated to an earlier onset, {run.seen_late} findings seen late")
    out(f"recorded findings without a history line: {len(run.unbacked)}")
    for client, kind, session, severity, signal_id in run.unbacked:
        out(f"  client {client} {kind} {severity} at session {session} (flag {signal_id})")
    out(f"differences: {len(differences)}")
    for side, (client, kind, session, severity), count in differences:
        out(f"  {side}: client {client} {kind} {severity} at session {session}" + (f" ×{count}" if count > 1 else ""))
    out(f"time: {seconds:.1f} s")


def explain(run, differences, now, out=print):
    """For each client with a difference: the live flags and their actions, and each check's times."""
    from measures.models import SignalAction, SurveyInvitation
    from sessions_app.models import Participant, TherapySession

    for client in sorted({key[0] for _side, key, _count in differences}):
        out(f"client {client}:")
        for flag in run.flags:
            if str(flag.participant_id) == client:
                at = f"{flag.at:%d.%m %H:%M}"
                out(f"  live {flag.action} {flag.kind} {flag.severity} session {flag.session_id} at {at}")
        for action in SignalAction.objects.filter(signal__participant_id=client).select_related("signal"):
            out(f"  action {action.action} {action.signal.kind} {action.severity} at {action.created_at:%d.%m %H:%M}")
        case_id = Participant.objects.filter(pk=client).values_list("case_id", flat=True)[:1]
        for session in TherapySession.counted(TherapySession.objects.filter(case_id__in=case_id), now):
            checks = [
                f"p{i.participant_id}: sent {i.created_at:%d.%m %H:%M} "
                + (f"done {i.completed_at:%d.%m %H:%M}" if i.completed_at else f"expired {i.expires_at:%d.%m %H:%M}")
                for i in SurveyInvitation.objects.filter(session=session).order_by("participant_id")
            ]
            out(f"  session {session.pk} {session.scheduled_start:%m-%d %H:%M} {session.status} {'; '.join(checks)}")


def _recreate_postgres(url):
    import psycopg2

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return admin_url, name


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=60)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--gap", type=int, help="days between sessions (default: each course's own)")
    parser.add_argument("--explain", action="store_true", help="print the history of every client with a difference")
    parser.add_argument("--url", help="postgres://… (re-created, dropped at the end); default: a temporary SQLite file")
    parser.add_argument("--strictness", type=float, help="a stored strictness for the clinic (default: none, 1)")
    parser.add_argument(
        "--sensitivity", choices=("cautious", "standard", "sensitive"), help="the clinic's flag sensitivity"
    )
    parser.add_argument("--engagement-rate", type=float, help="a stored usual rate of missed checks (default: none)")
    args = parser.parse_args()
    directory = tempfile.TemporaryDirectory()
    admin = None
    url = args.url or f"sqlite:///{directory.name}/live_replay.sqlite3"
    if args.url:
        admin = _recreate_postgres(args.url)
    os.environ.update(
        {"DATABASE_URL": url, "DEBUG": "0", "ALLIANCE_ENV": "test", "LOG_LEVEL": "WARNING", "EMAIL_URL": "locmem://"}
    )
    os.environ.pop("REDIS_URL", None)  # tasks run in-process (eager)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance_site.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from accounts.models import Clinic, User
    from measures.actions.instruments import do_load_bundled_instruments

    try:
        call_command("migrate", verbosity=0)
        do_load_bundled_instruments()
        clinic = Clinic.objects.create(name="Live replay clinic", slug="live-replay")
        therapist = User.objects.create_user("live@example.test", "x", full_name="Live Therapist", clinic=clinic)
        keep_settings(
            clinic, strictness=args.strictness, sensitivity=args.sensitivity, engagement_rate=args.engagement_rate
        )
        print(
            f"database: {'PostgreSQL' if args.url else 'SQLite'}; seed {args.seed}; sensitivity {clinic.sensitivity}, "
            f"strictness {args.strictness or 'none'}, usual rate of missed checks {args.engagement_rate or 'none'}"
        )
        started = time.perf_counter()
        result = run_and_compare(
            clinic, therapist, clients=args.clients, weeks=args.weeks, seed=args.seed, gap_days=args.gap,
            progress=lambda text: print(f"  {text} ({time.perf_counter() - started:.0f} s)", flush=True),
        )
        report(*result, time.perf_counter() - started)
        if args.explain and result[3]:
            explain(result[0], result[3], result[0].end)
    finally:
        connections.close_all()
        if admin is not None:
            import psycopg2

            connection = psycopg2.connect(admin[0])
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{admin[1]}" WITH (FORCE)')
            connection.close()
        directory.cleanup()


if __name__ == "__main__":
    main()
