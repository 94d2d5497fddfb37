"""One clinic per person: a therapist forced into another clinic while still named on a case of
the first hears nothing more of it: not in the header badge, the digest, or an alert email."""

import pytest
from django.urls import reverse

from accounts.models import User
from dashboard.digests import compute_digest, do_send_digest
from measures.models import Signal
from measures.tasks import send_flag_alert
from tests.builders import make_clinic, make_session
from tests.dashboard.flags import make_signal
from tests.dashboard.test_notifications import MONDAY


@pytest.fixture
def moved(therapist, case):
    """Tess holds a case of clinic A with an unseen alert and an unanswered check; then a raw update
    (bypassing the model's clean(), as a careless script would) puts her in clinic B."""
    make_signal(case, severity="alert")
    make_session(case, days_ago=1)
    User.objects.filter(pk=therapist.pk).update(clinic=make_clinic("Clinic B"))
    therapist.refresh_from_db()
    return therapist


def test_before_the_move_the_flag_reaches_the_therapist(therapist, case):
    make_signal(case, severity="alert")
    assert Signal.objects.unseen_for(therapist).count() == 1
    assert compute_digest(therapist, now=MONDAY)


def test_the_header_badge_counts_nothing_of_the_old_clinic(login, moved):
    assert Signal.objects.unseen_for(moved).count() == 0
    body = login(moved).get(reverse("dashboard:caseload")).content.decode()
    assert "new flags" not in body


def test_the_digest_lists_nothing_of_the_old_clinic(moved, mailoutbox):
    assert compute_digest(moved, now=MONDAY) == []
    assert do_send_digest(moved, now=MONDAY) is False
    assert mailoutbox == []


def test_no_alert_email_reaches_them_for_the_old_clinics_case(moved, case, mailoutbox):
    signal = Signal.objects.get(case=case)
    send_flag_alert(signal.pk)
    assert mailoutbox == []


def test_the_old_clinics_case_is_not_theirs_to_open(login, moved, case):
    assert login(moved).get(reverse("dashboard:case", args=[case.pk])).status_code == 404


def test_the_alert_email_still_reaches_a_therapist_in_the_cases_clinic(therapist, case, mailoutbox):
    signal = make_signal(case, severity="alert")
    send_flag_alert(signal.pk)
    assert [m.to for m in mailoutbox] == [[therapist.email]]
