"""Argon2id with the cost OWASP's password-storage guidance recommends for interactive logins.

Django's own Argon2 defaults (100 MiB, 2 passes, 8 lanes) took 0.7-1.3 s a hash on this
deployment's two cores, and a sign-in would wait that long. 19 MiB, 2 passes and 1 lane is the
first of OWASP's equivalent settings for argon2id and costs about 0.1 s here. Hashes made with
other parameters still verify, and are re-hashed with these at the next successful sign-in.
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class TunedArgon2PasswordHasher(Argon2PasswordHasher):
    memory_cost = 19 * 1024  # KiB
    time_cost = 2
    parallelism = 1
