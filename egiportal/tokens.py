"""Secret tokens the portal issues: personal API tokens (egiportal.models.APIToken) and the portal
tokens of site API credentials (sites.models.APICredential) share this one scheme.

- issue: a random secret with the model's prefix (`egit_`, `egip_`), shown once; only its digest and
  a short display prefix are stored;
- digest: HMAC-SHA256 keyed with TOKEN_DIGEST_KEY (SECRET_KEY unless set), so that a leaked database
  alone does not allow checking guesses offline;
- match: the digest is looked up, then compared in constant time; a model that once stored plain
  SHA-256 digests (`LEGACY_SHA256`) still matches them and has the row upgraded on first use;
- touch: the last use is written at most once a minute, so that busy clients do not write on every read.

The models listed in PORTAL_TOKEN_MODELS (settings) inherit `SecretToken`; egiportal.identity asks
them, in that order, who holds a secret.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.utils import timezone

MAX_LENGTH = 200  # issued secrets are 48 characters; anything much longer is refused before hashing
TOUCH_EVERY = timedelta(minutes=1)

UNKNOWN = "Unknown or revoked token."
READ_ONLY = "Read-only token: it was issued without write access."


def digest(secret):
    """The keyed digest of `secret` (64 hex characters)."""
    key = (getattr(settings, "TOKEN_DIGEST_KEY", "") or settings.SECRET_KEY).encode()
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def legacy_digest(secret):
    """The unkeyed SHA-256 digest that site API credentials stored before the keyed scheme."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix):
    return prefix + secrets.token_urlsafe(32)


def well_formed(secret):
    """Whether `secret` could be a token at all: short printable ASCII without spaces."""
    return (
        isinstance(secret, str)
        and 0 < len(secret) <= MAX_LENGTH
        and secret.isascii()
        and secret.isprintable()
        and " " not in secret
    )


def token_models():
    """The models of PORTAL_TOKEN_MODELS ("app_label.Model"), in order."""
    return [apps.get_model(label) for label in settings.PORTAL_TOKEN_MODELS]


def prefixes():
    return tuple(model.TOKEN_PREFIX for model in token_models())


def has_portal_prefix(secret):
    """Whether `secret` looks like a token of this portal (so it is never sent to Check-in)."""
    return isinstance(secret, str) and secret.startswith(prefixes())


def find(secret):
    """The token (usable or not) of any PORTAL_TOKEN_MODELS model whose secret is `secret`, or None.
    A model whose prefix the secret has is asked first; tokens issued before prefixes mattered still match."""
    if not well_formed(secret):
        return None
    models = sorted(token_models(), key=lambda model: not secret.startswith(model.TOKEN_PREFIX))
    for model in models:
        token = model.find_secret(secret)
        if token is not None:
            return token
    return None


def touch(obj, field="last_used"):
    """Record a use of `obj` now, unless one was recorded within the last minute."""
    now = timezone.now()
    last = getattr(obj, field)
    if last is None or now - last > TOUCH_EVERY:
        type(obj)._base_manager.filter(pk=obj.pk).update(**{field: now})
        setattr(obj, field, now)


class SecretToken:
    """What a model holding issued secrets has in common (a mixin of django Model subclasses).

    A model sets TOKEN_PREFIX, DIGEST_FIELD (the 64-character digest column), DISPLAY_FIELD and
    DISPLAY_LENGTH (the part of the secret kept to recognise it), and implements `token_queryset()`,
    `refusal()` (why a matched token may not be used now, or None), `write_refusal()` (why it may not
    write, or None) and `caller()` (the fields of an egiportal.identity.Caller).
    """

    TOKEN_PREFIX = ""
    DIGEST_FIELD = "digest"
    DISPLAY_FIELD = "prefix"
    DISPLAY_LENGTH = 10
    LEGACY_SHA256 = False

    def set_secret(self, secret=None):
        """Give the token a new secret (or `secret`, e.g. the demo's fixed one) and return it; only its
        digest and a display prefix are kept."""
        secret = secret or new_secret(self.TOKEN_PREFIX)
        setattr(self, self.DISPLAY_FIELD, secret[: self.DISPLAY_LENGTH] + "…")
        setattr(self, self.DIGEST_FIELD, digest(secret))
        return secret

    @classmethod
    def token_queryset(cls):
        return cls._default_manager.all()

    @classmethod
    def find_secret(cls, secret):
        """The token whose secret is `secret` (usable or not), or None."""
        if not well_formed(secret):
            return None
        keyed = digest(secret)
        candidates = [keyed]
        if cls.LEGACY_SHA256:
            candidates.append(legacy_digest(secret))
        field = cls.DIGEST_FIELD
        for token in cls.token_queryset().filter(**{f"{field}__in": candidates})[:2]:
            stored = getattr(token, field)
            if hmac.compare_digest(stored, keyed):
                return token
            if cls.LEGACY_SHA256 and hmac.compare_digest(stored, candidates[1]):
                cls._base_manager.filter(pk=token.pk).update(**{field: keyed})  # upgrade to the keyed form
                setattr(token, field, keyed)
                return token
        return None

    @classmethod
    def find_presented(cls, kind, value):
        """The usable credential registered for an identifier the caller presents (a DN, an OIDC
        subject) rather than a secret the portal issued; None for models that hold no such thing."""
        return None

    def touch(self):
        touch(self)

    def refusal(self):
        return None

    def write_refusal(self):
        return None

    def caller(self):
        raise NotImplementedError
