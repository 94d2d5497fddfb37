"""Every test carries exactly one level marker, derived from its fixtures (tests/conftest.py)."""

import pytest

from tests.conftest import LEVELS, level_of


@pytest.mark.parametrize(
    "fixtures, django_db_marker, level",
    [
        ((), False, "unit"),
        (("settings", "mailoutbox", "monkeypatch"), False, "unit"),
        (("db",), False, "db"),
        (("transactional_db",), False, "db"),
        ((), True, "db"),
        (("case", "therapist", "clinic", "db"), False, "db"),
        (("postgres", "db"), True, "services"),
        (("redis_url",), False, "services"),
        (("worker", "postgres", "redis_url", "transactional_db"), True, "services"),
        (("page", "browser", "live_server", "transactional_db"), True, "browser"),
        (("chromium_path",), False, "browser"),
    ],
)
def test_a_tests_level_follows_from_its_fixtures(fixtures, django_db_marker, level):
    assert level_of(fixtures, django_db_marker) == level


def test_every_collected_test_has_exactly_one_level(request):
    items = request.session.items
    assert request.node in items
    wrong = {
        item.nodeid: levels
        for item in items
        if len(levels := {mark.name for mark in item.iter_markers() if mark.name in LEVELS}) != 1
    }
    assert wrong == {}
    assert request.node.get_closest_marker("unit") is not None
