"""Fixed-window rate limits for survey pages, counted in the shared cache.

Two kinds of request are counted apart, so that one cannot use up the other's budget:
- submissions to a real link, per link and per address: they stop a script (or a stuck client)
  from hammering the write path. The address limit is generous because a clinic's shared Wi-Fi
  puts several clients, and a family on one tablet, behind a single address;
- requests for an unknown (made-up, tampered or revoked) link, per address: a guesser is
  answered 429 after its own small limit, and clients on the same address who hold real links
  go on submitting. The link's 192-bit secret is what makes guessing hopeless; this limit keeps
  a guessing script from loading the database and the logs. Counters live in the default cache: in
process memory on the embedded default, in Redis when REDIS_URL is set, so every web process
shares them.

The limits fail open: an answer matters more than a limit. When the cache is down or hung (the
Redis client gives up after the short socket timeouts set in settings.CACHES), the check is
skipped, a warning is logged and `skipped_checks` counts it, and the submission goes on to the
database.
"""

import logging
import threading
import time

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

from accounts.network import client_address
from measures.models import hash_token

logger = logging.getLogger(__name__)

# What a cache outage raises: redis-py wraps refused connections and timeouts in RedisError;
# OSError covers a socket failing outside the client's own wrapping.
CACHE_ERRORS = (RedisError, OSError)

# Submissions this process let through unchecked because the cache failed (also one warning each).
skipped_checks = 0
_skipped_lock = threading.Lock()


def _count(hits, window):
    """Count one hit on each (scope, key) counter of the current window; their counts, in order.

    On Redis every counter in one round trip: per counter SET NX with the window's expiry, then
    INCR, in one MULTI/EXEC (so a counter never exists without its expiry). Django's cache API
    costs three round trips a counter (add, then incr, which checks the key exists first), and
    builds a Redis client for each: a seventh of a submission's CPU, sampled (issue 14).
    """
    bucket = int(time.time() // window)
    keys = [f"ratelimit:{scope}:{key}:{bucket}" for scope, key in hits]
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        keys = [backend.make_and_validate_key(key) for key in keys]
        # The counters are integers, which Django's Redis serializer stores as they are.
        with backend._cache.get_client(keys[0], write=True).pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.set(key, 0, ex=window + 5, nx=True)
                pipe.incr(key)
            return pipe.execute()[1::2]
    return [_count_in_cache(key, window) for key in keys]


def _count_in_cache(cache_key, window):
    """One counter through Django's cache API (process memory on the embedded default)."""
    cache.add(cache_key, 0, timeout=window + 5)
    try:
        return cache.incr(cache_key)
    except ValueError:  # evicted between add and incr: start over
        cache.set(cache_key, 1, timeout=window + 5)
        return 1


def is_submission_limited(request, token):
    """Count a POST to a real link against the link and its address; True when either is over its limit.

    The link is keyed by the token's hash (the cache never holds a usable token); both counters
    are always incremented, so a flood from one address cannot hide behind many links.
    """
    link_limit, address_limit, window = (
        settings.SURVEY_RATE_LIMIT["per_link"],
        settings.SURVEY_RATE_LIMIT["per_address"],
        settings.SURVEY_RATE_LIMIT["window_seconds"],
    )
    try:
        on_link, on_address = _count([("link", hash_token(token)[:32]), ("address", client_address(request))], window)
    except CACHE_ERRORS as exc:
        # One failure skips both counters: a hung cache costs the client one timeout, not four.
        _count_skipped_check(exc)
        return False
    return on_link > link_limit or on_address > address_limit


def is_unknown_link_limited(request):
    """Count a request for a link that matched no invitation against its address; True when
    this address is over its limit for unknown links (real links are not affected)."""
    limits = settings.SURVEY_RATE_LIMIT
    try:
        (count,) = _count([("unknown", client_address(request))], limits["window_seconds"])
    except CACHE_ERRORS as exc:
        _count_skipped_check(exc)
        return False
    return count > limits["unknown_per_address"]


def _count_skipped_check(exc):
    global skipped_checks
    with _skipped_lock:
        skipped_checks += 1
        total = skipped_checks
    # The exception's type only: nothing of the request (no token, no cache key) reaches the log.
    logger.warning("survey rate limit skipped: cache unavailable (%s); %d skipped by this process",
                   type(exc).__name__, total)
