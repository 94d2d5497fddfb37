"""What a clinic admin can export, built as rows or resources (dashboard/exports.py serves them).

Every builder takes an ExportScope and runs a fixed number of queries whatever the clinic's size:
one joined query per table, read with .iterator() so that a large clinic streams instead of
filling memory (the FHIR bundle and the replay history are the exceptions: a bundle is one JSON
document, and the replay numbers each case's sessions, so both read their rows whole).
"""

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Q


@dataclass(frozen=True)
class ExportScope:
    """One case, or the sessions of a date range (either end open), or the whole clinic."""

    clinic: object
    case: object = None
    date_from: date | None = None
    date_to: date | None = None

    def _midnight(self, day):
        # The range's days are the clinic's, as staff see every date (not the server's UTC days).
        return datetime.combine(day, time.min, tzinfo=zoneinfo.ZoneInfo(self.clinic.time_zone))

    def _q(self, case_path, moment):
        q = Q(**{f"{case_path}__clinic": self.clinic})
        if self.case is not None:
            q &= Q(**{case_path: self.case})
        if self.date_from is not None:
            q &= Q(**{f"{moment}__gte": self._midnight(self.date_from)})
        if self.date_to is not None:
            q &= Q(**{f"{moment}__lt": self._midnight(self.date_to + timedelta(days=1))})
        return q

    def sessions_q(self, prefix):
        """A filter on the sessions reached through `prefix` ("session", "response__session")."""
        return self._q(f"{prefix}__case", f"{prefix}__scheduled_start")

    def answers_q(self):
        """A filter on Answer rows: the scope's sessions, and no free text where the clinic lets
        only the therapist read clients' own words (an export is an admin's download)."""
        q = self.sessions_q("response__session")
        if self.clinic.notes_for_therapist_only:
            q &= ~Q(item__kind="text")
        return q

    def flags_q(self, prefix=""):
        """A filter on flags (through `prefix`, e.g. "signal__"): the date range is when they opened."""
        return self._q(f"{prefix}case", f"{prefix}opened_at")

    @property
    def slug(self):
        """A file-name part naming the scope."""
        if self.case is not None:
            return f"case-{self.case.pk}"
        if self.date_from or self.date_to:
            return f"{self.date_from or 'start'}_to_{self.date_to or 'now'}"
        return "all"
