"""The tablet room: whose turn it is on a tablet handed over in the therapy room.

The room lives in the tablet's own anonymous session (the therapist's was flushed when they
handed it over) and holds ids only, never a token: the case, the invitations still to come in
order, every invitation handed over (so all their tablet links can be revoked), and the one
whose turn it is. The session stores a plain dict under ROOM_KEY; `Room` reads and writes it.
"""

from dataclasses import dataclass, field

from django.utils import timezone

from measures.models import TABLET_LINK_LIFETIME, SurveyInvitation

ROOM_KEY = "survey_room"
# A forgotten tablet stops offering surveys after two hours, and its links stop working.
ROOM_SECONDS = int(TABLET_LINK_LIFETIME.total_seconds())


@dataclass
class Room:
    case_id: int | None
    queue: list[int]  # invitations still to come, in the order they are offered
    everyone: list[int] = field(default_factory=list)  # every invitation handed over to this tablet
    current: int | None = None  # the invitation whose turn it is

    @classmethod
    def start(cls, session, *, case_id, invitation_ids):
        """A new room in this (fresh, anonymous) session, for two hours at most."""
        room = cls(case_id=case_id, queue=list(invitation_ids), everyone=list(invitation_ids))
        room.save(session)
        session.set_expiry(ROOM_SECONDS)
        return room

    @classmethod
    def load(cls, session):
        """The room of this browser's session, or None when it is not in the room."""
        data = session.get(ROOM_KEY)
        if data is None:
            return None
        return cls(
            case_id=data.get("case"),
            queue=list(data.get("queue", [])),
            everyone=list(data.get("all", [])),
            current=data.get("current"),
        )

    def save(self, session):
        data = {"queue": self.queue, "case": self.case_id, "all": self.everyone}
        if self.current is not None:
            data["current"] = self.current
        session[ROOM_KEY] = data

    def is_turn_of(self, invitation_id):
        return self.current is not None and self.current == invitation_id

    def current_is_open(self, now=None):
        """Whether the person whose turn it is still has an unanswered, unexpired check."""
        return bool(self.current) and SurveyInvitation.objects.filter(
            pk=self.current, completed_at__isnull=True, expires_at__gt=now or timezone.now()
        ).exists()

    def next_invitation(self, now=None):
        """The first still-open invitation of the queue, with its participant, or None."""
        open_ones = {
            invitation.pk: invitation
            for invitation in SurveyInvitation.objects.filter(
                pk__in=self.queue, completed_at__isnull=True, expires_at__gt=now or timezone.now()
            ).select_related("participant")
        }
        return next((open_ones[pk] for pk in self.queue if pk in open_ones), None)

    def advance_to(self, invitation):
        """Make it this person's turn. Later presses reach only people after them: the queue only shrinks."""
        self.queue = self.queue[self.queue.index(invitation.pk) + 1 :]
        self.current = invitation.pk
