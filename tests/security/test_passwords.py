"""Passwords: Argon2id first, at least 12 characters, no common or all-digit ones; a fast sign-in."""

import pytest
from django.contrib.auth.hashers import check_password, get_hasher, identify_hasher, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.hashers import TunedArgon2PasswordHasher
from tests.builders import PASSWORD, make_clinic, make_user


@pytest.fixture
def production_hashers(settings):
    """The production hashers, in place of the suite's fast MD5 one (tests/conftest.py)."""
    settings.PASSWORD_HASHERS = [
        "accounts.hashers.TunedArgon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


def test_new_passwords_are_hashed_with_argon2id(production_hashers):
    encoded = make_password("a-long-passphrase-2026")
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert isinstance(get_hasher(), TunedArgon2PasswordHasher)
    assert check_password("a-long-passphrase-2026", encoded)


def test_an_old_pbkdf2_password_still_signs_in_and_is_rehashed(client, production_hashers, db):
    user = make_user(make_clinic())
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.save()
    response = client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert identify_hasher(user.password).algorithm == "argon2"


@pytest.mark.parametrize(
    "password, reason",
    [
        ("Sh0rt-pass!", "too short"),  # 11 characters
        ("password1234", "too common"),
        ("473829105563", "entirely numeric"),
    ],
)
def test_weak_passwords_are_refused(password, reason, db):
    with pytest.raises(ValidationError) as refused:
        validate_password(password)
    assert reason in " ".join(refused.value.messages)


def test_a_twelve_character_passphrase_is_accepted(db):
    validate_password("plum-otter-42")
