"""Overload is refused quickly (alliance_site.overload): a process busy with its limit of requests
answers the next one 503 "please try again" after a short wait, and serves it when a slot frees."""

import threading
import time

from alliance_site.overload import AdmissionLimit


def call(app):
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app({}, start_response))
    return seen["status"], seen["headers"], body


def test_a_request_beyond_the_limit_is_refused_with_503_after_the_short_wait():
    release, inside = threading.Event(), threading.Event()

    def slow_app(environ, start_response):
        inside.set()
        release.wait(5)
        start_response("200 OK", [])
        return [b"ok"]

    app = AdmissionLimit(slow_app, limit=1, wait=0.1)
    busy = threading.Thread(target=call, args=(app,))
    busy.start()
    assert inside.wait(5)
    started = time.monotonic()
    status, headers, body = call(app)
    waited = time.monotonic() - started
    release.set()
    busy.join(5)
    assert status.startswith("503") and headers["Retry-After"] == "5" and b"try again" in body
    assert 0.1 <= waited < 1
    assert app.refused == 1


def test_within_the_limit_requests_are_served():
    def app_ok(environ, start_response):
        start_response("200 OK", [])
        return [b"ok"]

    app = AdmissionLimit(app_ok, limit=1, wait=0.1)
    assert [call(app)[0] for _ in range(3)] == ["200 OK"] * 3
    assert app.refused == 0


def test_a_new_process_compiles_every_project_template_before_it_takes_a_connection():
    """gunicorn's post_worker_init runs warm_up: the survey page a client opens first is already
    compiled in the cached loader, so a fresh process's first requests are not slow ones holding
    its few slots while the requests behind them are refused."""
    import runpy
    from pathlib import Path

    from django.template import engines

    engine = engines["django"].engine
    loader = engine.template_loaders[0]
    loader.reset()
    assert "surveys/survey.html" not in loader.get_template_cache
    logged = []

    class Worker:
        class log:  # noqa: N801  (gunicorn's worker.log is an object with .info)
            @staticmethod
            def info(message, *args):
                logged.append(message % args)

    config = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
    config["post_worker_init"](Worker())
    templates = [p for p in Path(engine.dirs[0]).rglob("*") if p.suffix in {".html", ".txt"}]
    assert logged == [f"warmed up: {len(templates)} templates compiled"]
    for name in ("surveys/survey.html", "surveys/survey_done.html", "dashboard/caseload.html", "base.html"):
        assert name in loader.get_template_cache


def test_a_template_that_does_not_compile_is_logged_and_the_process_still_starts(monkeypatch, caplog):
    from pathlib import Path

    from django.template import TemplateSyntaxError, engines

    from alliance_site.overload import warm_up

    engine = engines["django"].engine
    compile_one = engine.get_template

    def broken(name):
        if name == "surveys/survey_done.html":
            raise TemplateSyntaxError("Invalid block tag on line 3: 'endiff'")
        return compile_one(name)

    monkeypatch.setattr(engine, "get_template", broken)
    templates = [p for p in Path(engine.dirs[0]).rglob("*") if p.suffix in {".html", ".txt"}]
    with caplog.at_level("ERROR", logger="alliance_site.overload"):
        assert warm_up() == len(templates) - 1
    assert "template surveys/survey_done.html did not compile" in caplog.text
