"""Rate limiting of the REST API: one budget per API token, per logged-in user, or per client address."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import SimpleRateThrottle

from egiportal import caching
from egiportal.models import APIToken
from egiportal.tokens import SecretToken


class TokenRateThrottle(SimpleRateThrottle):
    """API_RATE_LIMIT ("<count>/<s|min|h|day>") requests per token, session user or anonymous client.

    Each token has its own budget, so a busy tool does not use up the budget of its owner's other
    tokens or browser session. Refused requests get 429 with Retry-After (DRF adds it from wait()).
    An empty API_RATE_LIMIT turns rate limiting off.

    Requests are counted atomically in fixed windows of the rate's period (egiportal.caching.count), so
    parallel clients get exactly the budget through; without Redis nothing is counted (fail open).
    """

    scope = "api"

    def get_rate(self):
        # Read on every request (not cached like DRF's THROTTLE_RATES), so a changed setting applies.
        return settings.API_RATE_LIMIT or None

    def parse_rate(self, rate):
        try:
            return super().parse_rate(rate)
        except (ValueError, KeyError, IndexError):
            raise ImproperlyConfigured(f"API_RATE_LIMIT {rate!r} is not of the form 1200/min.") from None

    def get_cache_key(self, request, view):
        if isinstance(request.auth, APIToken):
            ident = f"token-{request.auth.pk}"
        elif isinstance(request.auth, SecretToken):  # a site API credential's token
            ident = f"{request.auth._meta.model_name}-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"anon-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        counted = caching.count(self.get_cache_key(request, view), self.duration)
        self.retry_after = counted.retry_after if counted else None
        return counted is None or counted.value <= self.num_requests

    def wait(self):
        return self.retry_after
