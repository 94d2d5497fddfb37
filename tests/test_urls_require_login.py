"""Every URL that is not explicitly public sends an anonymous visitor to the login page."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

PUBLIC = {"accounts:login", "accounts:logout", "surveys:survey", "surveys:survey_done"}
# Signed out by nature: the invitation link and Django's password reset.
PUBLIC |= {
    "accounts:accept_invitation",
    "accounts:password_reset",
    "accounts:password_reset_done",
    "accounts:password_reset_confirm",
    "accounts:password_reset_complete",
}
PUBLIC_PREFIXES = ("admin:",)  # the operator's Django admin has its own login


def named_patterns(resolver=None, namespace=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from named_patterns(pattern, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}", pattern


def sample_url(name, pattern):
    params = re.findall(r"<(?:(\w+):)?(\w+)>", str(pattern.pattern))
    kwargs = {param: (1 if converter == "int" else "x") for converter, param in params}
    return reverse(name, kwargs=kwargs)


PRIVATE = sorted(
    (name, pattern) for name, pattern in named_patterns() if name not in PUBLIC and not name.startswith(PUBLIC_PREFIXES)
)


def test_there_are_private_urls_to_check():
    assert len(PRIVATE) >= 4


@pytest.mark.django_db
@pytest.mark.parametrize("name, pattern", PRIVATE, ids=[name for name, _ in PRIVATE])
def test_anonymous_visitor_is_sent_to_login(client, name, pattern):
    url = sample_url(name, pattern)
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        if response.status_code == 405:
            continue
        assert response.status_code == 302, f"{method.upper()} {url} answered {response.status_code}"
        assert response["Location"].startswith(reverse("accounts:login")), response["Location"]
