import hashlib
import zoneinfo
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac


def validate_time_zone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone")


LANGUAGES = [("en", "English"), ("es", "Español")]


def default_languages():
    return [code for code, _label in LANGUAGES]


def validate_languages(value):
    codes = {code for code, _label in LANGUAGES}
    if not isinstance(value, list) or not value or any(code not in codes for code in value):
        raise ValidationError("Choose at least one of the languages the survey is written in.")


FALSE_FLAG_BUDGET_DEFAULT = 8  # percent (measures.engine.budget.DEFAULT_BUDGET)
FALSE_FLAG_BUDGET_RANGE = (1, 30)


class Clinic(models.Model):
    class Sensitivity(models.TextChoices):
        # Mapped to the engine's confirmation threshold in measures.evaluation.engine_settings_for.
        CAUTIOUS = "cautious", "Cautious: fewer flags, some later"
        STANDARD = "standard", "Standard"
        SENSITIVE = "sensitive", "Sensitive: earlier flags, more of them false"

    class NotesReaders(models.TextChoices):
        THERAPIST = "therapist", "The client's therapist only"
        TEAM = "team", "The therapist and the clinical team (clinic admins)"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    # Settings a clinic admin can change.
    alliance_cutoff = models.DecimalField(
        max_digits=3,
        decimal_places=1,
        default=Decimal("7.0"),
        help_text="Total alliance score (0–10) below which a check counts as low.",
    )
    invitation_expiry_days = models.PositiveSmallIntegerField(default=4)
    reminder_after_days = models.PositiveSmallIntegerField(default=2)
    instrument_code = models.CharField(max_length=60, default="alliance-check")
    languages = models.JSONField(default=default_languages, validators=[validate_languages])
    sensitivity = models.CharField(max_length=10, choices=Sensitivity.choices, default=Sensitivity.STANDARD)
    # Shown to clients on the survey's closed and thank-you pages (a phone number, an address).
    client_contact = models.CharField(max_length=200, blank=True)
    notes_readers = models.CharField(max_length=10, choices=NotesReaders.choices, default=NotesReaders.TEAM)
    # The false-flag budget in whole percent: the nightly calibration (measures.evaluation.
    # do_calibrate_clinic) sets the engine's strictness so that at most this share of steady
    # clients' courses is ever flagged. Whole points: the simulation resolves about one point.
    false_flag_budget = models.PositiveSmallIntegerField(
        default=FALSE_FLAG_BUDGET_DEFAULT,
        validators=[MinValueValidator(FALSE_FLAG_BUDGET_RANGE[0]), MaxValueValidator(FALSE_FLAG_BUDGET_RANGE[1])],
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(alliance_cutoff__gte=0) & Q(alliance_cutoff__lte=10), name="clinic_cutoff_in_scale"
            ),
            models.CheckConstraint(
                condition=Q(invitation_expiry_days__gte=1) & Q(invitation_expiry_days__lte=30),
                name="clinic_expiry_1_to_30_days",
            ),
            models.CheckConstraint(
                condition=Q(reminder_after_days__lt=models.F("invitation_expiry_days")),
                name="clinic_reminder_before_expiry",
            ),
            models.CheckConstraint(
                condition=Q(false_flag_budget__gte=FALSE_FLAG_BUDGET_RANGE[0])
                & Q(false_flag_budget__lte=FALSE_FLAG_BUDGET_RANGE[1]),
                name="clinic_false_flag_budget_1_to_30",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def offered_languages(self):
        """The survey languages clients may choose (codes of LANGUAGES)."""
        return self.languages or default_languages()

    @property
    def notes_for_therapist_only(self):
        return self.notes_readers == self.NotesReaders.THERAPIST


class ClinicSettingChange(models.Model):
    """Append-only record of a clinic setting an admin changed: which, from what, to what, who, when."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="setting_changes")
    field = models.CharField(max_length=40)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)
    actor = models.ForeignKey("User", on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [
            # The settings page's history: a clinic's latest changes first.
            models.Index(fields=["clinic", "changed_at"], name="clinic_setting_change_time"),
        ]

    def __str__(self):
        return f"{self.field} of {self.clinic_id}"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **fields):
        if not email:
            raise ValueError("A user needs an email address")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        fields.setdefault("role", User.Role.OPERATOR)
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)


class User(AbstractBaseUser, PermissionsMixin):
    class Role(models.TextChoices):
        CLINIC_ADMIN = "admin", "Clinic admin"
        THERAPIST = "therapist", "Therapist"
        OPERATOR = "operator", "Operator"

    class Digest(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly (Mondays)"
        NEVER = "never", "Never"

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.THERAPIST)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, null=True, blank=True, related_name="users")
    digest = models.CharField(max_length=10, choices=Digest.choices, default=Digest.DAILY)
    # The day the last digest went out (UTC): the digest task claims a day with a conditional update.
    last_digest_on = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Part of the session hash: bumping it (deactivation) ends every session of the user at once,
    # and a reactivated user's old session cookies stay dead.
    session_epoch = models.PositiveIntegerField(default=0)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        constraints = [
            # Clinic staff always belong to a clinic; only the operator stands outside one.
            models.CheckConstraint(
                condition=Q(role="operator") | Q(clinic__isnull=False), name="user_staff_has_clinic"
            ),
        ]

    def __str__(self):
        return self.full_name or self.email

    def clean(self):
        super().clean()
        # One clinic per person: a move would leave their cases with a therapist the clinic cannot see.
        if self.pk is None:
            return
        previous = User.objects.filter(pk=self.pk).values_list("clinic_id", flat=True).first()
        # "active" is sessions_app's Case.Status.ACTIVE (accounts imports nothing above it).
        if previous is not None and previous != self.clinic_id and self.cases.filter(status="active").exists():
            raise ValidationError(
                {"clinic": "This person still holds active cases in their clinic: reassign them before the move."}
            )

    def _get_session_auth_hash(self, secret=None):
        # Django's own hash of the password hash, with session_epoch mixed in once it was bumped
        # (epoch 0 keeps Django's value: deploying this signs nobody out).
        key_salt = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"
        value = self.password if not self.session_epoch else f"{self.password}:{self.session_epoch}"
        return salted_hmac(key_salt, value, secret=secret, algorithm="sha256").hexdigest()

    @property
    def is_clinic_admin(self):
        return self.role == self.Role.CLINIC_ADMIN

    @property
    def first_name(self):
        return (self.full_name or self.email).split()[0]


def hash_token(token):
    """Only a token's SHA-256 is stored: a copy of the table cannot be used to accept an invitation."""
    return hashlib.sha256(token.encode()).hexdigest()


class StaffInvitationQuerySet(models.QuerySet):
    def pending(self, now):
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now)


class StaffInvitation(models.Model):
    """An invitation to join a clinic as a therapist or admin: a single-use, expiring link to set
    a password. The account is created when the link is used, so nobody ever chooses a password
    for someone else."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="staff_invitations")
    email = models.EmailField()
    full_name = models.CharField(max_length=150)
    role = models.CharField(
        max_length=20,
        choices=[
            (User.Role.THERAPIST, User.Role.THERAPIST.label),
            (User.Role.CLINIC_ADMIN, User.Role.CLINIC_ADMIN.label),
        ],
    )
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    # Null until the email went out: an invitation unsent an hour on is reported as bouncing.
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    user = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    objects = StaffInvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The users page's pending invitations of a clinic.
            models.Index(fields=["clinic", "accepted_at"], name="staff_invitation_clinic"),
        ]

    def __str__(self):
        return f"Invitation of {self.email}"

    def is_usable(self, now):
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now


class SecondFactorReset(models.Model):
    """Append-only record of an admin resetting a colleague's second factor: whose, by whom, when,
    from which address. The colleague enrols again at their next sign-in."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="second_factor_resets")
    member = models.ForeignKey(User, on_delete=models.PROTECT, related_name="second_factor_resets")
    actor = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    address = models.CharField(max_length=45, blank=True)  # as accounts.network sees it
    reset_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-reset_at", "-id"]
        indexes = [
            # The users page: a clinic's latest resets first.
            models.Index(fields=["clinic", "reset_at"], name="second_factor_reset_time"),
        ]

    def __str__(self):
        return f"Second factor reset of {self.member_id}"
