"""The access log's table covers every route that names a case, session, flag or client, and
every export: generated from the URL configuration, so a new route without a row fails here."""

from django.urls import URLPattern, URLResolver, get_resolver

from audit.routes import CASE_KEYS, CLIENT_DATA_ROUTES, is_export_name


def walk(patterns, namespace=""):
    """(URL name, keyword names) of every named route."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", set(entry.pattern.converters)


ROUTES = dict(walk(get_resolver().url_patterns))


def test_the_walk_finds_the_apps_routes():
    assert {"dashboard:case", "surveys:complete_now", "audit:export"} <= set(ROUTES)
    assert ROUTES["dashboard:record_session"] == {"session_id"}


def test_every_route_naming_a_case_session_flag_or_client_has_a_row():
    missing = sorted(name for name, keys in ROUTES.items() if keys & set(CASE_KEYS) and name not in CLIENT_DATA_ROUTES)
    assert missing == []


def test_every_export_has_a_row_marked_as_an_export():
    exports = {name for name in ROUTES if is_export_name(name)}
    assert exports  # audit:export at least
    assert sorted(name for name in exports if not getattr(CLIENT_DATA_ROUTES.get(name), "export", False)) == []


def test_every_row_names_a_route_and_one_of_its_keywords():
    for name, row in CLIENT_DATA_ROUTES.items():
        assert name in ROUTES, f"{name}: no such route"
        assert row.key is None or row.key in ROUTES[name], f"{name}: no {row.key} in its URL"
    # A route naming a case must be logged with it, not as a page about no case.
    assert [name for name, row in CLIENT_DATA_ROUTES.items() if row.key is None and ROUTES[name] & set(CASE_KEYS)] == []


def test_the_survey_pages_are_left_out_on_purpose():
    assert "surveys:survey" in ROUTES and "surveys:survey" not in CLIENT_DATA_ROUTES
