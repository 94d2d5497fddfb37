"""Content-Security-Policy and Permissions-Policy on every page; `check --deploy` refuses a
deployment without them or with sessions that last too long."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import Error, run_checks
from django.urls import reverse

from alliance_site.checks import check_content_security_policy, check_session_lifetime
from tests.builders import make_invitation, make_session

ROOT = Path(__file__).resolve().parents[2]


def directives(response):
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def assert_security_headers(response):
    policy = directives(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    permissions = dict(part.strip().split("=") for part in response["Permissions-Policy"].split(","))
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert permissions[feature] == "()"


def test_a_staff_page_sends_the_policies(login, therapist, case):
    response = login(therapist).get(reverse("dashboard:case", args=[case.pk]))
    assert response.status_code == 200
    assert_security_headers(response)


def test_a_survey_page_sends_the_policies(client, case):
    _, token = make_invitation(make_session(case), case.participants.get())
    response = client.get(reverse("surveys:survey", args=[token]))
    assert response.status_code == 200
    assert_security_headers(response)


def test_the_sign_in_page_sends_the_policies(client, db):
    assert_security_headers(client.get(reverse("accounts:login")))


def test_no_template_has_inline_script_or_style():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    offenders = []
    for template in root.rglob("*.html"):
        text = template.read_text()
        if "/email/" in str(template):
            continue  # emails are not pages: no CSP applies to them
        for marker in ("<style", "style=\"", "<script>", " onclick=", " onload=", " onsubmit="):
            if marker in text:
                offenders.append(f"{template.relative_to(root)}: {marker}")
    assert offenders == []


# The deployment checks ---------------------------------------------------------------------


def ids(errors):
    return [error.id for error in errors]


def test_the_shipped_settings_pass_the_projects_deploy_checks():
    assert check_session_lifetime(None) == [] and check_content_security_policy(None) == []
    assert not [e for e in run_checks(include_deployment_checks=True) if e.id.startswith("alliance.")]


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"STAFF_SESSION_IDLE_SECONDS": 3600}, "alliance.E002"),
        ({"STAFF_SESSION_MAX_SECONDS": 14 * 24 * 3600}, "alliance.E002"),
        ({"SESSION_COOKIE_AGE": 1209600}, "alliance.E003"),
        ({"SESSION_EXPIRE_AT_BROWSER_CLOSE": False}, "alliance.E003"),
    ],
)
def test_check_deploy_refuses_long_sessions(settings, overrides, expected):
    for name, value in overrides.items():
        setattr(settings, name, value)
    errors = check_session_lifetime(None)
    assert expected in ids(errors) and all(isinstance(e, Error) for e in errors)
    assert expected in ids(run_checks(include_deployment_checks=True, tags=["security"]))


def test_check_deploy_refuses_a_missing_session_timeout(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("StaffSessionTimeoutMiddleware")]
    assert ids(check_session_lifetime(None)) == ["alliance.E001"]


def test_check_deploy_refuses_a_missing_csp(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "csp.middleware.CSPMiddleware"]
    assert ids(check_content_security_policy(None)) == ["alliance.E004"]


def test_check_deploy_refuses_a_policy_without_default_src(settings):
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"script-src": ["'self'"]}}
    assert ids(check_content_security_policy(None)) == ["alliance.E004"]


def test_check_deploy_refuses_inline_scripts_or_styles(settings):
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {"default-src": ["'self'"], "style-src": ["'self'", "'unsafe-inline'"]}
    }
    assert ids(check_content_security_policy(None)) == ["alliance.E005"]


def test_the_deploy_checks_run_at_check_deploy_only(settings):
    settings.STAFF_SESSION_IDLE_SECONDS = 3600
    assert "alliance.E002" not in ids(run_checks(include_deployment_checks=False))


def test_manage_py_check_deploy_refuses_a_production_with_long_sessions():
    env = {
        **os.environ,
        "ALLIANCE_ENV": "production",
        "SECRET_KEY": "x" * 60,
        "ALLOWED_HOSTS": "alliance.example.test",
        "EMAIL_URL": "smtp://mail.example.test:587",
        "STAFF_SESSION_MAX_SECONDS": str(14 * 24 * 3600),
    }
    env.pop("DEBUG", None)
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"]
    refused = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "alliance.E002" in refused.stderr
    del env["STAFF_SESSION_MAX_SECONDS"]
    accepted = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert "alliance." not in accepted.stderr + accepted.stdout
