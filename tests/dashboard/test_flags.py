"""Acknowledging and resolving flags, and what the engine does with a resolved flag afterwards."""

import pytest
from django.urls import reverse

from measures.access import get_signal_for_user
from measures.actions.signals import do_acknowledge_signal, do_resolve_signal
from measures.evaluation import do_evaluate_case
from measures.models import Signal, SignalAction
from tests.builders import give_history, make_response, make_session
from tests.dashboard.flags import make_signal


def ack_url(flag):
    return reverse("dashboard:acknowledge_signal", args=[flag.pk])


def resolve_url(flag):
    return reverse("dashboard:resolve_signal", args=[flag.pk])


def test_the_therapist_acknowledges_a_flag_once(login, therapist, case):
    flag = make_signal(case)
    client = login(therapist)
    response = client.post(ack_url(flag))
    assert response.status_code == 302 and response["Location"].endswith(f"#flag-{flag.pk}")
    client.post(ack_url(flag))  # a double click
    flag.refresh_from_db()
    assert flag.status == "acknowledged" and flag.closed_at is None
    assert list(flag.actions.values_list("action", "actor")) == [("opened", None), ("acknowledged", therapist.pk)]


def test_the_therapist_resolves_a_flag_with_a_repair_note(login, therapist, case):
    flag = make_signal(case)
    client = login(therapist)
    data = {"repair": "talked_through", "note": "  We named the rupture and agreed a plan. "}
    response = client.post(resolve_url(flag), data)
    assert response.status_code == 302 and response["Location"].endswith("#history")
    client.post(resolve_url(flag), data)  # a double click
    flag.refresh_from_db()
    assert flag.status == "resolved" and flag.closed_at is not None and flag.holds
    resolved = flag.actions.filter(action="resolved")
    assert resolved.count() == 1
    assert (resolved[0].repair, resolved[0].note, resolved[0].actor) == (
        "talked_through",
        "We named the rupture and agreed a plan.",
        therapist,
    )


def test_resolving_needs_a_known_repair_and_other_needs_a_note(login, therapist, case):
    flag = make_signal(case)
    client = login(therapist)
    client.post(resolve_url(flag), {"repair": "prayed"})
    client.post(resolve_url(flag), {"repair": "other", "note": " "})
    flag.refresh_from_db()
    assert flag.status == "open" and not flag.actions.filter(action="resolved").exists()
    client.post(resolve_url(flag), {"repair": "other", "note": "Phone call with both partners"})
    flag.refresh_from_db()
    assert flag.status == "resolved"


def test_a_cleared_flag_is_neither_acknowledged_nor_resolved(therapist, case):
    flag = make_signal(case, status="cleared", closed_at="2026-01-01T00:00:00Z", holds=False)
    assert not do_acknowledge_signal(flag, acting_user=therapist)
    assert not do_resolve_signal(flag, repair="other", note="x", acting_user=therapist)
    flag.refresh_from_db()
    assert flag.status == "cleared" and flag.actions.count() == 1


def test_an_acknowledged_flag_can_then_be_resolved(therapist, case):
    flag = make_signal(case)
    assert do_acknowledge_signal(flag, acting_user=therapist)
    assert do_resolve_signal(flag, repair="referred", note="", acting_user=therapist)
    assert list(flag.actions.values_list("action", flat=True)) == ["opened", "acknowledged", "resolved"]


@pytest.mark.parametrize("view", [ack_url, resolve_url])
def test_only_post_is_allowed(login, therapist, case, view):
    flag = make_signal(case)
    assert login(therapist).get(view(flag)).status_code == 405


@pytest.mark.parametrize("view", [ack_url, resolve_url])
def test_anonymous_users_are_sent_to_log_in(client, case, view):
    flag = make_signal(case)
    response = client.post(view(flag), {"repair": "other", "note": "x"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    assert Signal.objects.get(pk=flag.pk).status == "open"


@pytest.mark.parametrize("view", [ack_url, resolve_url])
@pytest.mark.parametrize(("persona", "status"), [("colleague", 404), ("outsider", 404), ("clinic_admin", 403)])
def test_no_one_else_handles_the_flag(login, request, case, view, persona, status):
    flag = make_signal(case)
    response = login(request.getfixturevalue(persona)).post(view(flag), {"repair": "other", "note": "x"})
    assert response.status_code == status
    assert Signal.objects.get(pk=flag.pk).status == "open" and flag.actions.count() == 1


def test_the_access_helper_lets_the_admin_read_but_not_write(clinic_admin, case):
    from django.core.exceptions import PermissionDenied

    flag = make_signal(case)
    assert get_signal_for_user(clinic_admin, flag.pk) == flag
    with pytest.raises(PermissionDenied):
        get_signal_for_user(clinic_admin, flag.pk, write=True)


# The reconciler's rule for resolved flags, end to end with the real engine -----------------




def test_a_resolved_flag_comes_back_only_when_the_finding_gets_worse(therapist, case):
    # 6.5 rather than 7: a drop of 7 is only "info", a note that cannot be resolved (only flags can).
    participant = give_history(case, [9, 9, 8.5, 9, 9, 9, 6.5])
    do_evaluate_case(case.pk)
    flag = Signal.objects.get(case=case, kind="reliable_drop", status="open")
    assert flag.severity == "warning"  # below alert, so that a worse finding exists
    do_resolve_signal(flag, repair="talked_through", note="Talked it through", acting_user=therapist)

    do_evaluate_case(case.pk)  # the same finding: the therapist has dealt with it
    do_evaluate_case(case.pk)
    assert not Signal.objects.filter(case=case, kind="reliable_drop", status__in=Signal.OPEN_STATUSES).exists()
    flag.refresh_from_db()
    assert flag.status == "resolved" and flag.holds

    make_response(make_session(case, days_ago=0), participant, 4, 4, 4)  # it gets worse
    do_evaluate_case(case.pk)
    reopened = Signal.objects.get(case=case, kind="reliable_drop", status="open")
    assert reopened.pk != flag.pk and reopened.severity == "alert"
    assert SignalAction.objects.filter(signal=reopened).values_list("action", flat=True).get() == "opened"
    flag.refresh_from_db()
    assert flag.status == "resolved"
