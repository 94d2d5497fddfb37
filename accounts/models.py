import zoneinfo
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone


def validate_time_zone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone")


class Clinic(models.Model):
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
        ]

    def __str__(self):
        return self.name


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

    @property
    def is_clinic_admin(self):
        return self.role == self.Role.CLINIC_ADMIN

    @property
    def first_name(self):
        return (self.full_name or self.email).split()[0]
