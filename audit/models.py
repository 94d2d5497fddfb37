"""The access log: one append-only row per read or change of client data (issue 13.4).

Nothing in the app updates or deletes a row: the model and its QuerySet refuse it, and on
PostgreSQL and SQLite a trigger refuses it in the database too (migration 0001), so neither a
bug nor a raw UPDATE from a shell rewrites the record.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AppendOnlyError(Exception):
    """An attempt to change or remove an access log entry."""


class AccessEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("The access log is append-only: entries are never updated")

    def delete(self):
        raise AppendOnlyError("The access log is append-only: entries are never deleted")

    def _raw_delete(self, using):
        raise AppendOnlyError("The access log is append-only: entries are never deleted")

    def for_clinic(self, clinic_id):
        return self.filter(clinic_id=clinic_id)


class AccessEvent(models.Model):
    class Action(models.TextChoices):
        READ = "read", "Read"
        CHANGE = "change", "Change"
        EXPORT = "export", "Export"

    class Outcome(models.TextChoices):
        ALLOWED = "allowed", "Allowed"
        DENIED = "denied", "Denied"

    at = models.DateTimeField(default=timezone.now)
    # Who: always a signed-in user. Anonymous requests are not recorded: login_required sends them
    # to the login page before any client data is looked up, and recording them would let anyone
    # write rows here without signing in (failed sign-ins are counted by the lock-out instead).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The clinic whose data it is (the case's clinic), else the user's own; its admin reads the entry.
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    case = models.ForeignKey("sessions_app.Case", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    route = models.CharField(max_length=100)  # the URL name, e.g. "dashboard:case"
    # What was asked for, e.g. "session 12", or an export's scope ("kind=couple"): never a token.
    target = models.CharField(max_length=300, blank=True)
    action = models.CharField(max_length=10, choices=Action.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField()
    address = models.CharField(max_length=45, blank=True)  # IPv4 or IPv6, as accounts.network sees it

    objects = AccessEventQuerySet.as_manager()

    class Meta:
        indexes = [
            # The admin's log page: one clinic's entries, newest first (optionally one person's).
            models.Index(fields=["clinic", "-at"], name="audit_clinic_at"),
            models.Index(fields=["clinic", "user", "-at"], name="audit_clinic_user_at"),
            # "Who read this case": one case's entries, newest first.
            models.Index(fields=["case", "-at"], name="audit_case_at"),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.user_id} {self.action} {self.route} {self.outcome}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("The access log is append-only: entries are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("The access log is append-only: entries are never deleted")
