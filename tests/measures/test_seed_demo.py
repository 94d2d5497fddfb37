import pytest
from django.core.management import call_command

from accounts.models import User
from measures.models import CaseEvaluation, InvitationToken, Response, Signal
from sessions_app.models import Case, TherapySession


def counts():
    return [m.objects.count() for m in (User, Case, TherapySession, Response, Signal, CaseEvaluation)]


@pytest.mark.django_db(transaction=True)
def test_seed_demo_builds_the_clinic_once(capsys):
    call_command("seed_demo")
    first = counts()
    output = capsys.readouterr().out
    assert "ana@demo.alliance.test" in output and "admin@demo.alliance.test" in output
    users, cases, sessions, responses, signals, evaluations = first
    assert users == 4 and 35 <= cases <= 45
    assert Case.objects.filter(kind="couple").exists() and Case.objects.filter(kind="family").exists()
    # Some history has ended: dropouts after a decline, and a completed course.
    assert Case.objects.filter(outcome="dropped_out").count() == 2 and Case.objects.filter(outcome="completed").exists()
    assert not Case.objects.filter(status="active", closed_on__isnull=False).exists()
    assert responses > 200 and evaluations == cases
    # The demo shows the patterns the engine knows: a split alliance and declines are flagged.
    assert Signal.objects.filter(kind="split_alliance").exists()
    assert Signal.objects.filter(kind__in=["reliable_drop", "sustained_decline"], severity="alert").exists()
    # Demo history stores no link at all, so no demo survey can be reached by guessing.
    assert not InvitationToken.objects.exists()
    call_command("seed_demo")
    assert counts() == first
    assert "already seeded" in capsys.readouterr().out
