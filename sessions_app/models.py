from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Clinic


class CaseQuerySet(models.QuerySet):
    def for_user(self, user):
        """Cases the user may see: an admin sees the clinic's, a therapist their own."""
        if not user.is_authenticated or user.clinic_id is None:
            return self.none()
        cases = self.filter(clinic_id=user.clinic_id)
        if user.role == user.Role.CLINIC_ADMIN:
            return cases
        return cases.filter(therapist=user)

    def active(self):
        return self.filter(status=Case.Status.ACTIVE)

    def closed(self):
        return self.filter(status=Case.Status.CLOSED)


class Case(models.Model):
    class Kind(models.TextChoices):
        INDIVIDUAL = "individual", "Individual"
        COUPLE = "couple", "Couple"
        FAMILY = "family", "Family"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        CLOSED = "closed", "Closed"

    class Outcome(models.TextChoices):
        # How a closed case ended: what later tells the clinic whether its flags foresaw dropouts.
        COMPLETED = "completed", "Completed as planned"
        DROPPED_OUT = "dropped_out", "Dropped out"
        REFERRED = "referred", "Referred elsewhere"
        OTHER = "other", "Other"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="cases")
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cases", null=True, blank=True
    )
    # A short label the clinic uses for the case (never a diagnosis); names live on participants.
    reference = models.CharField(max_length=40)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.INDIVIDUAL)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    opened_on = models.DateField(default=timezone.localdate)
    closed_on = models.DateField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    # Set (to the time of the change) in the same transaction as every change that calls for a new
    # evaluation; cleared by the evaluation that saw it, only if not set again meanwhile. A change
    # whose evaluation could not be queued (broker down) stays marked until the catch-up runs it.
    needs_evaluation_since = models.DateTimeField(null=True, blank=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "reference"], name="case_reference_unique_in_clinic"),
            models.CheckConstraint(
                condition=Q(closed_on__isnull=True) | Q(closed_on__gte=models.F("opened_on")),
                name="case_closed_after_opened",
            ),
            # An active case has no closing date and no outcome; a closed one has both.
            models.CheckConstraint(
                condition=Q(status="active", closed_on__isnull=True, outcome="")
                | (Q(status="closed", closed_on__isnull=False) & ~Q(outcome="")),
                name="case_closing_matches_status",
            ),
        ]
        indexes = [
            # The caseload: a therapist's active cases.
            models.Index(fields=["therapist", "status"], name="case_therapist_status"),
            # The evaluation catch-up: marked cases, oldest mark first (a small partial index).
            models.Index(
                fields=["needs_evaluation_since"],
                name="case_needs_evaluation",
                condition=Q(needs_evaluation_since__isnull=False),
            ),
        ]

    def __str__(self):
        return self.reference

    @property
    def is_multi_person(self):
        return self.kind != self.Kind.INDIVIDUAL

    @property
    def is_active(self):
        return self.status == self.Status.ACTIVE

    @classmethod
    def participant_count_error(cls, kind, count):
        """Why `count` active clients do not fit a case of `kind`, or "" when they do: an individual
        case has one client, a couple two, a family two or more."""
        if kind == cls.Kind.INDIVIDUAL and count != 1:
            return "An individual case has exactly one client."
        if kind == cls.Kind.COUPLE and count != 2:
            return "A couple case has exactly two clients."
        if kind == cls.Kind.FAMILY and count < 2:
            return "A family case has at least 2 clients."
        return ""


class Participant(models.Model):
    class Language(models.TextChoices):
        ENGLISH = "en", "English"
        SPANISH = "es", "Español"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="participants")
    display_name = models.CharField(max_length=80)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    language = models.CharField(max_length=5, choices=Language.choices, default=Language.ENGLISH)
    # The clinic's own id for the client (a CSV import's client_id): how a re-import finds them.
    client_ref = models.CharField(max_length=64, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "display_name"], name="participant_name_unique_in_case"),
            models.UniqueConstraint(
                fields=["case", "client_ref"], condition=~Q(client_ref=""), name="participant_ref_unique_in_case"
            ),
        ]

    def __str__(self):
        return self.display_name

    @property
    def first_name(self):
        return self.display_name.split()[0]


class TherapySession(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        ATTENDED = "attended", "Attended"
        CANCELLED = "cancelled", "Cancelled in good time"
        LATE_CANCELLED = "late_cancelled", "Cancelled late"
        NO_SHOW = "no_show", "No-show"

    # Sessions that count in a client's series and its numbering: those that took place or were missed.
    COUNTED = (Status.ATTENDED, Status.NO_SHOW, Status.LATE_CANCELLED)

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="sessions")
    scheduled_start = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["scheduled_start"]
        constraints = [
            models.UniqueConstraint(fields=["case", "scheduled_start"], name="session_unique_start_in_case"),
        ]
        indexes = [
            # The nightly sweep: attended sessions in a time window.
            models.Index(fields=["status", "scheduled_start"], name="session_status_start"),
        ]

    def __str__(self):
        return f"{self.case} on {self.scheduled_start:%Y-%m-%d %H:%M}"

    @classmethod
    def counted(cls, sessions, now):
        """The sessions that count, in order: session number k is the k-th of this list. The one
        definition the engine's input, the charts and the session table all number by."""
        return sorted(
            (s for s in sessions if s.status in cls.COUNTED and s.scheduled_start <= now),
            key=lambda s: s.scheduled_start,
        )


class CaseEvent(models.Model):
    """Append-only record of who changed a case, or one of its sessions, and when: the state
    changes that have no history of their own (a flag's is its SignalAction rows). The audit
    log reads from here. `actor` None means the system (a task, the nightly sweep, a command)."""

    class Action(models.TextChoices):
        OPENED = "opened", "Case opened"
        SESSION_SCHEDULED = "session_scheduled", "Session scheduled"
        SESSION_RECORDED = "session_recorded", "Session status recorded"
        CLOSED = "closed", "Case closed"
        REOPENED = "reopened", "Case reopened"
        ASSIGNED = "assigned", "Therapist assigned"
        PARTICIPANT_ADDED = "participant_added", "Client added"
        PARTICIPANT_REMOVED = "participant_removed", "Client left the case"
        PARTICIPANT_UPDATED = "participant_updated", "Client details corrected"
        IMPORTED = "imported", "Imported from a CSV file"
        CHECKS_CREATED = "checks_created", "Checks created"
        CHECKS_RESENT = "checks_resent", "Checks sent again"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    session = models.ForeignKey(TherapySession, on_delete=models.PROTECT, null=True, blank=True, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="case_events"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    # What changed, e.g. {"from": "scheduled", "to": "attended"} or {"count": 2, "channel": "email"}.
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The audit log of one case, in time order.
            models.Index(fields=["case", "created_at"], name="case_event_case_time"),
        ]

    def __str__(self):
        return f"{self.action} on case {self.case_id}"


class CaseImport(models.Model):
    """An uploaded CSV import between its preview and its confirmation: the files' text is kept
    here (never in a log) for PENDING_LIFETIME, and emptied once imported or superseded; the row
    stays as the record of who imported what, with the counts written."""

    # A preview older than this must be uploaded again: its content may no longer match the clinic.
    PENDING_LIFETIME_MINUTES = 60

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="case_imports")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="case_imports")
    created_at = models.DateTimeField(default=timezone.now)
    cases_csv = models.TextField(blank=True)
    history_csv = models.TextField(blank=True)
    imported_at = models.DateTimeField(null=True, blank=True)
    # What was written: {"cases": n, "participants": n, "sessions": n, "responses": n}.
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            # The confirm page: one uploader's pending import.
            models.Index(fields=["uploaded_by", "created_at"], name="case_import_uploader_time"),
        ]

    def __str__(self):
        return f"Import {self.pk} by {self.uploaded_by_id}"

    def is_pending(self, now=None):
        now = now or timezone.now()
        return self.imported_at is None and now - self.created_at < timedelta(minutes=self.PENDING_LIFETIME_MINUTES)
