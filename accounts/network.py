"""The client's address as this deployment sees it, for the login lock-out and the survey limits."""

from django.conf import settings


def client_address(request):
    """The client's IP address; behind NUM_PROXIES trusted proxies, taken from X-Forwarded-For."""
    proxies = getattr(settings, "NUM_PROXIES", 0)
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        # Each trusted proxy appends the address it saw; anything further left is client-supplied.
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")
