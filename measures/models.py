import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from sessions_app.models import Case, Participant, TherapySession

from .engine import contract


class InstrumentQuerySet(models.QuerySet):
    def latest_version(self, code):
        return self.filter(code=code).order_by("-version").first()

    def for_clinic(self, clinic):
        """The latest version of the clinic's instrument. Raises Instrument.DoesNotExist if not loaded."""
        instrument = self.latest_version(clinic.instrument_code)
        if instrument is None:
            raise self.model.DoesNotExist(f"instrument {clinic.instrument_code!r} is not loaded")
        return instrument


class Instrument(models.Model):
    """A questionnaire version, loaded from a definition file in measures/instruments/."""

    code = models.SlugField(max_length=60)
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    # Reliability (alpha) and spread (SD of first-session scores) per series: the engine's
    # reliable-change threshold until a clinic has enough data of its own.
    psychometrics = models.JSONField(default=dict)
    definition = models.JSONField(help_text="The definition file as loaded, for audit.")
    loaded_at = models.DateTimeField(default=timezone.now)

    objects = InstrumentQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["code", "version"], name="instrument_code_version_unique")]

    def __str__(self):
        return f"{self.name} (v{self.version})"


class ItemQuerySet(models.QuerySet):
    def for_case(self, case):
        """The items a participant of this case is asked, in order, as a list."""
        if case.is_multi_person:
            return list(self)
        return list(self.filter(audience=Item.Audience.ALL))


class Item(models.Model):
    class Kind(models.TextChoices):
        RATING = "rating", "Rating"
        YES_NO = "yes_no", "Yes / no"
        TEXT = "text", "Free text"
        CHOICE = "choice", "One of a few options"

    class Audience(models.TextChoices):
        ALL = "all", "Every case"
        MULTI = "multi", "Couple and family cases"

    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="items")
    code = models.SlugField(max_length=40)
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # goals / tasks / bond / shared / rupture / note — what the answer is scored into.
    subscale = models.CharField(max_length=20)
    scale_min = models.SmallIntegerField(null=True, blank=True)
    scale_max = models.SmallIntegerField(null=True, blank=True)
    reverse_scored = models.BooleanField(default=False)
    required = models.BooleanField(default=True)
    audience = models.CharField(max_length=8, choices=Audience.choices, default=Audience.ALL)
    # Shown only when the item it depends on was answered "yes".
    depends_on = models.CharField(max_length=40, blank=True)
    # {"en": {"prompt": ..., "low": ..., "high": ...}, "es": {...}}; a choice item's texts also
    # have "options": {option code: label}.
    texts = models.JSONField()
    # A choice item's option codes, in the order shown (a list: jsonb does not keep key order).
    options = models.JSONField(default=list, blank=True)

    objects = ItemQuerySet.as_manager()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["instrument", "code"], name="item_code_unique_in_instrument"),
            models.UniqueConstraint(fields=["instrument", "position"], name="item_position_unique"),
            models.CheckConstraint(
                condition=~Q(kind="rating") | (Q(scale_min__isnull=False) & Q(scale_max__gt=models.F("scale_min"))),
                name="item_rating_has_range",
            ),
        ]

    def __str__(self):
        return f"{self.instrument.code}:{self.code}"

    def text(self, language):
        return self.texts.get(language) or self.texts["en"]

    def score(self, value):
        """The value as it counts towards its subscale (reverse-scored items flipped)."""
        if self.reverse_scored:
            return self.scale_min + self.scale_max - value
        return value


def hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


# A tablet link lives in a shared device's history: it works for this long only.
TABLET_LINK_LIFETIME = timedelta(hours=2)
# Issued tokens are 32 characters; anything much longer is not one of ours (and is not hashed).
MAX_TOKEN_LENGTH = 100


class SurveyInvitationQuerySet(models.QuerySet):
    def open(self, now):
        """Invitations that can still be answered at `now`: not completed, not expired."""
        return self.filter(completed_at__isnull=True, expires_at__gt=now)

    def for_token(self, token, *, now=None):
        """The invitation a link token belongs to, with its case and clinic, or None if unknown.

        A tablet link works only for TABLET_LINK_LIFETIME. Looked up through the token (call it on
        the manager: SurveyInvitation.objects.for_token(token)).
        """
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        now = now or timezone.now()
        link = (
            InvitationToken.objects.select_related("invitation__participant", "invitation__session__case__clinic")
            .filter(token_hash=hash_token(token))
            .exclude(purpose=InvitationToken.Purpose.TABLET, created_at__lt=now - TABLET_LINK_LIFETIME)
            .first()
        )
        return link.invitation if link else None


class SurveyInvitation(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", "Emailed link"
        TABLET = "tablet", "In the room"

    session = models.ForeignKey(TherapySession, on_delete=models.PROTECT, related_name="invitations")
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="invitations")
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = SurveyInvitationQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "participant"], name="invitation_one_per_participant"),
            models.CheckConstraint(condition=Q(expires_at__gt=models.F("created_at")), name="invitation_expires_later"),
        ]
        indexes = [
            # Reminders and expiry: open invitations by age.
            models.Index(fields=["completed_at", "created_at"], name="invitation_open_by_age"),
        ]

    def __str__(self):
        return f"Invitation {self.pk} for {self.participant}"

    @property
    def is_completed(self):
        return self.completed_at is not None

    def is_expired(self, now=None):
        return (now or timezone.now()) >= self.expires_at


class InvitationToken(models.Model):
    """The hash of one link issued for an invitation; the token itself is never stored.

    An invitation can have several live links (the first email, a reminder, the tablet, a QR
    code): each is a fresh random token, valid until the invitation is completed or expires.
    """

    class Purpose(models.TextChoices):
        EMAIL = "email", "Email"
        REMINDER = "reminder", "Reminder"
        TABLET = "tablet", "Tablet hand-over"
        QR = "qr", "QR code"

    invitation = models.ForeignKey(SurveyInvitation, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.purpose} link for invitation {self.invitation_id}"


class Response(models.Model):
    """One participant's answered check for one session, with its subscale scores stored."""

    Rupture = models.IntegerChoices(
        "Rupture", [(name, (code, label)) for code, name, label in contract.RUPTURES]
    )

    # None only for a check imported from a clinic's history (is_imported): no link was ever sent.
    invitation = models.OneToOneField(
        SurveyInvitation, on_delete=models.PROTECT, related_name="response", null=True, blank=True
    )
    session = models.ForeignKey(TherapySession, on_delete=models.PROTECT, related_name="responses")
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="responses")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="responses")
    submitted_at = models.DateTimeField(default=timezone.now)
    # Subscale means rescaled to 0–10 whatever the instrument's own range, so the engine and
    # the charts compare like with like across instruments.
    goals = models.DecimalField(max_digits=4, decimal_places=2)
    tasks = models.DecimalField(max_digits=4, decimal_places=2)
    bond = models.DecimalField(max_digits=4, decimal_places=2)
    total = models.DecimalField(max_digits=4, decimal_places=2)
    shared = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)
    rupture = models.SmallIntegerField(choices=Rupture.choices, null=True, blank=True)
    RuptureType = models.TextChoices(
        "RuptureType", [(code.upper(), (code, label)) for code, label in contract.RUPTURE_TYPES]
    )
    # What kind of rupture, when the client said (one optional tap after "something felt off").
    rupture_type = models.CharField(max_length=13, choices=RuptureType.choices, null=True, blank=True)
    note = models.TextField(blank=True, max_length=2000)
    # Brought in by a CSV import: subscale scores only, no invitation and no item-level answers.
    is_imported = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "participant"], name="response_one_per_session"),
            models.CheckConstraint(
                condition=Q(invitation__isnull=False) | Q(is_imported=True), name="response_has_invitation_or_imported"
            ),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{name}__gte": 0}) & Q(**{f"{name}__lte": 10}), name=f"response_{name}_0_to_10"
                )
                for name in ("goals", "tasks", "bond", "total")
            ],
            models.CheckConstraint(
                condition=Q(shared__isnull=True) | (Q(shared__gte=0) & Q(shared__lte=10)),
                name="response_shared_0_to_10",
            ),
            models.CheckConstraint(
                condition=Q(rupture__isnull=True) | Q(rupture__in=[0, 1, 2]), name="response_rupture_code"
            ),
            # A kind of rupture only after "something felt off".
            models.CheckConstraint(
                condition=Q(rupture_type__isnull=True)
                | (Q(rupture_type__in=[code for code, _label in contract.RUPTURE_TYPES]) & Q(rupture__in=[1, 2])),
                name="response_rupture_type_after_felt_off",
            ),
        ]
        indexes = [
            # The engine's load: a case's whole series, by participant, in session order.
            models.Index(fields=["participant", "session"], name="response_participant_session"),
        ]

    def __str__(self):
        return f"Response {self.pk}"


class Answer(models.Model):
    response = models.ForeignKey(Response, on_delete=models.PROTECT, related_name="answers")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="answers")
    value = models.SmallIntegerField(null=True, blank=True)
    text = models.TextField(blank=True, max_length=2000)
    # Copied from the item so the database itself refuses a value outside the item's range
    # (a check constraint cannot look at another table).
    scale_min = models.SmallIntegerField(null=True, blank=True)
    scale_max = models.SmallIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["response", "item"], name="answer_one_per_item"),
            models.CheckConstraint(
                condition=Q(value__isnull=True)
                | (
                    Q(scale_min__isnull=False)
                    & Q(value__gte=models.F("scale_min"))
                    & Q(value__lte=models.F("scale_max"))
                ),
                name="answer_value_in_item_range",
            ),
        ]

    def __str__(self):
        return f"{self.item.code}={self.value if self.value is not None else self.text!r}"


class CaseEvaluation(models.Model):
    """The engine's latest verdict on a case: orders the caseload without recomputing."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="evaluation")
    risk_score = models.PositiveSmallIntegerField(default=0)
    # Per participant: baseline, latest scores, trend, answered/attended counts.
    summary = models.JSONField(default=dict)
    evaluated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(risk_score__lte=100), name="evaluation_risk_0_to_100")]
        indexes = [
            # The caseload order.
            models.Index(fields=["-risk_score"], name="evaluation_risk"),
        ]

    def __str__(self):
        return f"{self.case}: risk {self.risk_score}"


class ClinicCalibration(models.Model):
    """The clinic's own reliability and spread estimates, once it has enough answered checks."""

    clinic = models.OneToOneField("accounts.Clinic", on_delete=models.CASCADE, related_name="calibration")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT)
    # Used by the engine: reliability for change (1 − within-person noise / first-session variance),
    # spread (SD of first-session scores), and the usual share of sessions without an answered check.
    reliability = models.JSONField(default=dict)
    spread = models.JSONField(default=dict)
    engagement_rate = models.FloatField(null=True, blank=True)
    # Cronbach's alpha per subscale, for the clinic overview (informational).
    alpha = models.JSONField(default=dict)
    responses = models.PositiveIntegerField(default=0)
    first_sessions = models.PositiveIntegerField(default=0)
    # The risk calibration refitted on the clinic's own closed cases (measures.engine.risk's
    # RiskTable as JSON), once it has enough; empty = the shipped one.
    risk_calibration = models.JSONField(default=dict, blank=True)
    # The false-flag budget kept (do_calibrate_clinic), shares as fractions: the clinic's budget
    # when calibrated, the budget aimed at after the outcome correction, the engine's strictness
    # that keeps it on simulated steady courses and the share of those courses it flags. Null
    # while the clinic's steady courses cannot be modelled (the built-in thresholds then apply).
    budget = models.FloatField(null=True, blank=True)
    budget_used = models.FloatField(null=True, blank=True)
    strictness = models.FloatField(null=True, blank=True)
    budget_achieved = models.FloatField(null=True, blank=True)
    # The clinic's closed cases that completed as planned: how many, how many of their clients,
    # and how many of those were ever flagged (warning or alert) during their course.
    completed_cases = models.PositiveIntegerField(null=True, blank=True)
    completed_count = models.PositiveIntegerField(null=True, blank=True)
    completed_flagged = models.PositiveIntegerField(null=True, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"Calibration of {self.clinic}"


class SignalQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(case__in=Case.objects.for_user(user))

    def open(self):
        return self.filter(status__in=Signal.OPEN_STATUSES)

    def open_or_holding(self):
        """The flags the reconciler may change: open ones, and closed ones whose condition still holds."""
        return self.filter(Q(status__in=Signal.OPEN_STATUSES) | Q(holds=True))

    def alerts_to_notify(self):
        """Open alerts whose email has not gone out yet."""
        return self.filter(status=Signal.Status.OPEN, severity=Signal.Severity.ALERT, notified_at__isnull=True)

    def unseen_for(self, user):
        """Open warning/alert flags on the user's own active cases that they have not looked at,
        in their own clinic only (a case of a clinic they left is not theirs to see)."""
        return self.filter(
            case__therapist=user,
            case__clinic_id=user.clinic_id,
            case__status=Case.Status.ACTIVE,
            status=Signal.Status.OPEN,
            seen_at__isnull=True,
        ).exclude(
            severity=Signal.Severity.INFO
        )


class Signal(models.Model):
    """A flag raised by the engine: one open per case, participant and kind; it escalates in place."""

    # kinds and severities, their codes and labels, are defined once in the engine's contract
    Kind = models.TextChoices("Kind", [(code.upper(), (code, label)) for code, label in contract.KINDS])
    Severity = models.TextChoices(
        "Severity", [(code.upper(), (code, label)) for code, label in contract.SEVERITY_CHOICES]
    )

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"
        CLEARED = "cleared", "No longer holds"

    OPEN_STATUSES = (Status.OPEN, Status.ACKNOWLEDGED)
    SEVERITY_RANK = contract.SEVERITY_RANK

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="signals")
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="signals")
    session = models.ForeignKey(TherapySession, on_delete=models.PROTECT, null=True, blank=True, related_name="signals")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    subscale = models.CharField(max_length=10, blank=True)
    evidence = models.JSONField(default=dict)
    message = models.TextField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    # Whether the engine still finds this condition. A resolved flag whose condition persists
    # is not reopened at the same severity: only a worse finding opens a new one.
    holds = models.BooleanField(default=True)

    objects = SignalQuerySet.as_manager()

    class Meta:
        constraints = [
            # The reconciler's invariant, enforced by the database against concurrent runs.
            models.UniqueConstraint(
                fields=["participant", "kind"],
                condition=Q(status__in=["open", "acknowledged"]),
                name="signal_one_open_per_participant_kind",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "acknowledged"], closed_at__isnull=True)
                | (Q(status__in=["resolved", "cleared"]) & Q(closed_at__isnull=False)),
                name="signal_closed_at_matches_status",
            ),
        ]
        indexes = [
            # The caseload's open-flag badges and the header count.
            models.Index(fields=["case", "status"], name="signal_case_status"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.severity}) for {self.participant}"

    @property
    def is_open(self):
        return self.status in self.OPEN_STATUSES

    @property
    def severity_rank(self):
        return self.SEVERITY_RANK[self.severity]


class SignalAction(models.Model):
    """Append-only history of a flag: what the engine and the therapist did with it."""

    class Action(models.TextChoices):
        OPENED = "opened", "Opened"
        ESCALATED = "escalated", "Escalated"
        UPDATED = "updated", "Evidence updated"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"
        CLEARED = "cleared", "No longer holds"
        # A session's record was corrected (its status changed, or it was moved or removed): the
        # engine's verdict changed because the record did, not because the client did.
        CORRECTED = "corrected", "Changed by a correction of the session record"

    class Repair(models.TextChoices):
        TALKED_THROUGH = "talked_through", "Talked it through in session"
        ADJUSTED_GOALS = "adjusted_goals", "Adjusted the goals"
        CHANGED_APPROACH = "changed_approach", "Changed the approach"
        REFERRED = "referred", "Referred"
        OTHER = "other", "Other"

    signal = models.ForeignKey(Signal, on_delete=models.PROTECT, related_name="actions")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    action = models.CharField(max_length=14, choices=Action.choices)
    severity = models.CharField(max_length=8, choices=Signal.Severity.choices, blank=True)
    repair = models.CharField(max_length=20, choices=Repair.choices, blank=True)
    # Which of the kind's suggestions (measures.repairs) the therapist used on resolving: its
    # key, "other", or "" when not recorded. Lets a clinic later see which suggestions work.
    suggestion = models.CharField(max_length=40, blank=True)
    note = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(action="resolved") | ~Q(repair=""), name="signal_action_resolve_has_repair"
            ),
        ]

    def __str__(self):
        return f"{self.action} {self.signal_id}"


class ExportRecord(models.Model):
    """Who exported what from a clinic, and when: one row per download, written before the data leaves.

    `rows` stays empty until the whole file has been produced; a download the browser broke off
    keeps its record with no row count.
    """

    class Kind(models.TextChoices):
        RESPONSES = "responses", "Item-level responses (CSV)"
        SCORES = "scores", "Subscale scores (CSV)"
        FLAGS = "flags", "Flags (CSV)"
        REPAIRS = "repairs", "Flag actions and repair notes (CSV)"
        REPLAY = "replay", "Session history in the replay format (CSV)"
        FHIR = "fhir", "FHIR R4 Bundle (JSON)"

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="exports")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="exports")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The scope: one case, or sessions within a date range (either end open), or the whole clinic.
    case = models.ForeignKey(Case, on_delete=models.PROTECT, null=True, blank=True, related_name="exports")
    date_from = models.DateField(null=True, blank=True)
    date_to = models.DateField(null=True, blank=True)
    rows = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The exports page: the clinic's latest exports.
            models.Index(fields=["clinic", "-created_at"], name="export_clinic_recent"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} by {self.user} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def scope_label(self):
        if self.case_id is not None:
            return f"case {self.case.reference}"
        if self.date_from or self.date_to:
            return f"sessions {self.date_from or '…'} to {self.date_to or '…'}"
        return "whole clinic"


class ClinicOverview(models.Model):
    """The clinic overview's figures as last computed (measures.overview.compute_overview), so the
    page reads one row instead of the clinic's whole history."""

    clinic = models.OneToOneField("accounts.Clinic", on_delete=models.CASCADE, related_name="overview")
    # {"clinic": figures, "by_therapist": {id: figures}, "months", "budget", "reliability", ...}
    payload = models.JSONField(default=dict)
    computed_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"Overview of {self.clinic}"
