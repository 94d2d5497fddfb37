"""Time a real sign-in POST with each production password hasher (prints figures, never fails).

    .venv/bin/python bench/login.py

Runs on an in-memory SQLite database; what it measures is the POST /login/ request (form,
axes' lock-out check, one password verification, session write) and the hash alone.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DATABASE_URL"] = "sqlite://"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance_site.settings")

import django  # noqa: E402

django.setup()

from django.test import Client, override_settings  # noqa: E402
from django.test.utils import setup_databases, setup_test_environment  # noqa: E402

HASHERS = {
    "PBKDF2 (Django 5.2 default, before)": "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "Argon2 (Django's defaults)": "django.contrib.auth.hashers.Argon2PasswordHasher",
    "Argon2id tuned (accounts/hashers.py, now)": "accounts.hashers.TunedArgon2PasswordHasher",
}
PASSWORD = "correct-horse-battery"
ROUNDS = 7


def main():
    setup_test_environment()
    setup_databases(verbosity=0, interactive=False)
    from accounts.models import Clinic, User

    clinic = Clinic.objects.create(name="Bench", slug="bench")
    for n, (label, hasher) in enumerate(HASHERS.items()):
        with override_settings(PASSWORD_HASHERS=[hasher]):
            user = User.objects.create_user(f"bench{n}@example.test", PASSWORD, full_name="Bench", clinic=clinic)
            times = []
            for _ in range(ROUNDS):
                client = Client()
                start = time.perf_counter()
                response = client.post("/login/", {"username": user.email, "password": PASSWORD})
                times.append(time.perf_counter() - start)
                assert response.status_code == 302, response.status_code
            print(f"{label:45s} login POST median {statistics.median(times):.3f} s  "
                  f"min {min(times):.3f}  max {max(times):.3f}")


if __name__ == "__main__":
    main()
