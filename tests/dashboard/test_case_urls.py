"""Every URL under a case answers 404 to a colleague and to another clinic, whatever the method."""

import pytest
from django.urls import reverse

from tests.builders import make_session
from tests.dashboard.flags import make_signal

URLS = [
    ("get", lambda case, session, flag: reverse("dashboard:case", args=[case.pk])),
    ("post", lambda case, session, flag: reverse("dashboard:record_session", args=[session.pk])),
    ("post", lambda case, session, flag: reverse("dashboard:send_checks", args=[session.pk])),
    ("post", lambda case, session, flag: reverse("dashboard:acknowledge_signal", args=[flag.pk])),
    ("post", lambda case, session, flag: reverse("dashboard:resolve_signal", args=[flag.pk])),
    ("post", lambda case, session, flag: reverse("surveys:complete_now", args=[session.pk, flag.participant_id])),
    ("get", lambda case, session, flag: reverse("surveys:participant_qr", args=[session.pk, flag.participant_id])),
]


@pytest.mark.parametrize("persona", ["colleague", "outsider"])
@pytest.mark.parametrize(("method", "build"), URLS)
def test_other_staff_get_404_on_every_case_url(login, request, case, persona, method, build):
    url = build(case, make_session(case), make_signal(case))
    client = login(request.getfixturevalue(persona))
    response = getattr(client, method)(url, {"status": "attended", "repair": "other", "note": "x"})
    assert response.status_code == 404
