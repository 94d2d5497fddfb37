"""Build the deterministic demo clinic. Running it again changes nothing."""

import zoneinfo
from datetime import datetime, time, timedelta

import numpy as np
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import Clinic, User
from measures.actions.responses import store_response
from measures.actions.sessions import do_end_case
from measures.evaluation import do_evaluate_case
from measures.models import Instrument, SurveyInvitation
from measures.simulation import (
    PATTERN_CEILING,
    PATTERN_COMPLETER,
    PATTERN_COUPLE_COMPLETER,
    PATTERN_FAMILY_COMPLETER,
    PATTERN_GRADUAL_DECLINE,
    PATTERN_MODEST_STEADY,
    PATTERN_SILENT_DISENGAGEMENT,
    PATTERN_SPLIT_COUPLE,
    PATTERN_STABLE_HIGH,
    PATTERN_SUDDEN_DROP,
    PATTERN_V_RUPTURE,
    simulate_case,
)
from sessions_app.models import Case, Participant, TherapySession

DEMO_SLUG = "demo"
DEMO_PASSWORD = "alliance-demo-2026"
ADMIN = ("admin@demo.alliance.test", "Morgan Reyes")
THERAPISTS = [
    ("ana@demo.alliance.test", "Ana Ortiz"),
    ("sam@demo.alliance.test", "Sam Okafor"),
    ("priya@demo.alliance.test", "Priya Nair"),
]
# (pattern, how many) — the demo shows every pattern the engine knows, ~40 cases in all.
# The last case of each pattern named in CLOSED is history: it ended as that outcome.
PLAN = [
    (PATTERN_GRADUAL_DECLINE, 4),
    (PATTERN_SUDDEN_DROP, 3),
    (PATTERN_SILENT_DISENGAGEMENT, 3),
    (PATTERN_V_RUPTURE, 5),
    (PATTERN_SPLIT_COUPLE, 2),
    (PATTERN_MODEST_STEADY, 4),
    (PATTERN_CEILING, 4),
    (PATTERN_STABLE_HIGH, 6),
    (PATTERN_COMPLETER, 4),
    (PATTERN_COUPLE_COMPLETER, 3),
    (PATTERN_FAMILY_COMPLETER, 2),
]
CLOSED = {
    PATTERN_GRADUAL_DECLINE: Case.Outcome.DROPPED_OUT,
    PATTERN_SUDDEN_DROP: Case.Outcome.DROPPED_OUT,
    PATTERN_COMPLETER: Case.Outcome.COMPLETED,
}
KIND_OF = {
    PATTERN_SPLIT_COUPLE: Case.Kind.COUPLE,
    PATTERN_COUPLE_COMPLETER: Case.Kind.COUPLE,
    PATTERN_FAMILY_COMPLETER: Case.Kind.FAMILY,
}
FIRST_NAMES = [
    "Alex",
    "Blake",
    "Casey",
    "Dana",
    "Eli",
    "Frankie",
    "Gray",
    "Harper",
    "Indy",
    "Jules",
    "Kai",
    "Lane",
    "Marlow",
    "Noor",
    "Oakley",
    "Parker",
    "Quinn",
    "Rowan",
    "Sage",
    "Tatum",
    "Uma",
    "Vic",
    "Wren",
    "Yael",
    "Zion",
    "Ari",
    "Bea",
    "Cruz",
    "Dev",
    "Ema",
    "Flor",
    "Gil",
    "Hana",
    "Iker",
    "Jade",
    "Luz",
    "Mika",
    "Nico",
]
SURNAMES = ["Abara", "Bell", "Castro", "Doyle", "Evans", "Fuentes", "Garza", "Hale", "Ibarra", "Joshi", "Kim", "Lund"]


class Command(BaseCommand):
    help = "Create the demo clinic (an admin, three therapists, ~40 cases of synthetic history) and print the logins."

    def handle(self, **options):
        clinic = Clinic.objects.filter(slug=DEMO_SLUG).first()
        if clinic is not None and clinic.cases.exists():
            self.stdout.write("The demo clinic is already seeded.")
        else:
            self._seed()
        self._print_logins()

    @transaction.atomic
    def _seed(self):
        clinic, _ = Clinic.objects.get_or_create(
            slug=DEMO_SLUG, defaults={"name": "Riverside Counselling (demo)", "time_zone": "Europe/London"}
        )
        User.objects.filter(email=ADMIN[0]).exists() or User.objects.create_user(
            ADMIN[0], DEMO_PASSWORD, full_name=ADMIN[1], role=User.Role.CLINIC_ADMIN, clinic=clinic
        )
        therapists = [
            User.objects.filter(email=email).first()
            or User.objects.create_user(email, DEMO_PASSWORD, full_name=name, role=User.Role.THERAPIST, clinic=clinic)
            for email, name in THERAPISTS
        ]
        instrument = Instrument.objects.for_clinic(clinic)
        rng = np.random.default_rng(20261129)
        today = timezone.localdate()
        number = 0
        name_index = 0
        for pattern, count in PLAN:
            for index in range(count):
                number += 1
                simulated = simulate_case(pattern, rng, int(rng.integers(6, 16)), case_id=f"D{number:03d}")
                kind = KIND_OF.get(pattern, Case.Kind.INDIVIDUAL)
                n_sessions = max(len(obs) for obs in simulated.participants.values())
                # Histories end in the last week, so the demo reads as "today" whenever it is seeded.
                first_day = today - timedelta(days=7 * (n_sessions - 1) + int(rng.integers(0, 5)))
                case = Case.objects.create(
                    clinic=clinic,
                    therapist=therapists[number % len(therapists)],
                    reference=f"D-{number:03d}",
                    kind=kind,
                    opened_on=first_day - timedelta(days=7),
                )
                participants = []
                for _ in simulated.participants:
                    first = FIRST_NAMES[name_index % len(FIRST_NAMES)]
                    surname = (
                        SURNAMES[(name_index // 3) % len(SURNAMES)]
                        if kind == Case.Kind.INDIVIDUAL or not participants
                        else participants[0].display_name.split()[-1]
                    )
                    name_index += 1
                    participants.append(
                        Participant.objects.create(
                            case=case,
                            display_name=f"{first} {surname}",
                            email=f"{first.lower()}.{number}@example.test",
                            language="es" if name_index % 5 == 0 else "en",
                        )
                    )
                self._history(case, participants, simulated, first_day, instrument)
                if pattern in CLOSED and index == count - 1:
                    do_end_case(case, CLOSED[pattern], closed_on=today, acting_user=None)
                    continue
                # An upcoming session, so the caseload shows the next appointment.
                TherapySession.objects.create(
                    case=case, scheduled_start=self._at(first_day + timedelta(days=7 * n_sessions), clinic)
                )
        transaction.on_commit(
            lambda: [
                do_evaluate_case(pk, notify=False)
                for pk in Case.objects.filter(clinic__slug=DEMO_SLUG).values_list("pk", flat=True)
            ]
        )

    def _at(self, day, clinic):
        # 10:00 at the clinic, whatever the server's zone or the season.
        return datetime.combine(day, time(10, 0), tzinfo=zoneinfo.ZoneInfo(clinic.time_zone))

    def _history(self, case, participants, simulated, first_day, instrument):
        items = instrument.items.for_case(case)
        series = list(simulated.participants.values())
        for index in range(max(len(obs) for obs in series)):
            observations = [obs[index] if index < len(obs) else None for obs in series]
            attended = any(o is not None and o.attended for o in observations)
            start = self._at(first_day + timedelta(days=7 * index), case.clinic)
            session = TherapySession.objects.create(
                case=case,
                scheduled_start=start,
                status=TherapySession.Status.ATTENDED if attended else TherapySession.Status.NO_SHOW,
                status_changed_at=start + timedelta(hours=1),
            )
            if not attended:
                continue
            for participant, obs in zip(participants, observations, strict=True):
                invitation = SurveyInvitation.objects.create(
                    session=session,
                    participant=participant,
                    created_at=start + timedelta(hours=1),
                    sent_at=start + timedelta(hours=1),
                    expires_at=start + timedelta(days=case.clinic.invitation_expiry_days, hours=1),
                )
                # No link is stored for history: a guessable demo token would open a real survey.
                if obs is None or obs.goals is None:
                    continue  # a skipped check
                values = _item_values(items, obs)
                submitted = start + timedelta(hours=2)
                SurveyInvitation.objects.filter(pk=invitation.pk).update(opened_at=submitted, completed_at=submitted)
                store_response(invitation, items, values, submitted_at=submitted)

    def _print_logins(self):
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {DEMO_PASSWORD})"))
        self.stdout.write(f"  clinic admin: {ADMIN[0]}")
        for email, name in THERAPISTS:
            self.stdout.write(f"  therapist:    {email}  ({name})")


def _split(mean):
    """Two whole-number item answers whose mean is the simulated subscale score."""
    doubled = int(round(mean * 2))
    low = doubled // 2
    return low, doubled - low


def _item_values(items, obs):
    values = {}
    per_subscale = {"goals": _split(obs.goals), "tasks": _split(obs.tasks), "bond": _split(obs.bond)}
    shared = _split((obs.goals + obs.tasks + obs.bond) / 3)
    position = {}
    for item in items:
        if item.kind == "rating":
            pair = per_subscale.get(item.subscale, shared)
            values[item.code] = pair[position.get(item.subscale, 0) % 2]
            position[item.subscale] = position.get(item.subscale, 0) + 1
    if obs.rupture is not None:
        values["rupture"] = obs.rupture in (1, 2)
        values["rupture_discussed"] = obs.rupture == 2 if obs.rupture else None
    return values
