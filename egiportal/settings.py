"""Settings of the EGI Portal: every value comes from the environment.

Without any variable the portal runs on SQLite, a local-memory cache and eager Celery tasks, so a
new user needs nothing but Python. `DATABASE_URL` and `REDIS_URL` switch to PostgreSQL and Redis.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")
# `make demo` and the tests run in demo mode; only there, or in debug mode, may the development key serve.
DEMO = env_bool("DEMO")
DEVELOPMENT_SECRET_KEY = "insecure-dev-key"
SECRET_KEY = os.environ.get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY
if SECRET_KEY == DEVELOPMENT_SECRET_KEY and not (DEBUG or DEMO):
    raise ImproperlyConfigured(
        "SECRET_KEY is not set: set it to a long random value (for example the output of "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`), or set DEMO=true or DEBUG=true "
        "to run with the development key."
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "django_tables2",
    "django_celery_beat",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "mozilla_django_oidc",
    "egiportal",
    "sites",
    "endpoints",
    "appliances",
    "accounting",
]

# Where the one permission question (egiportal.permissions) finds its grants: GOCDB roles on sites,
# NGIs, projects and service groups; what is a user's own; VO membership and VO management; authorship
# of marketplace appliances.
PORTAL_GRANT_SOURCES = (
    "sites.roles.GOCDBRoles",
    "egiportal.permissions.OwnerGrants",
    "egiportal.permissions.VOGrants",
    "appliances.grants.AuthorGrants",
)

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "egiportal.dbtimeout.StatementTimeoutMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "egiportal.oidc.SessionRefresh",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "egiportal.middleware.RequestContextMiddleware",
    "egiportal.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "egiportal.urls"
WSGI_APPLICATION = "egiportal.wsgi.application"
AUTH_USER_MODEL = "egiportal.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
LOGIN_REDIRECT_URL_FAILURE = "/login/"  # a silent renewal that found no provider session: log in again

# --- EGI Check-in (OpenID Connect, egiportal.oidc; specs/oidc.md) ---
# Login with Check-in is on when the issuer and the client id are set. Endpoints come from the issuer's
# discovery document unless given one by one (OIDC_OP_AUTHORIZATION_ENDPOINT and so on).
OIDC_OP_ISSUER = os.environ.get("OIDC_OP_ISSUER", "").rstrip("/")
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_RP_CLIENT_SECRET", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.environ.get("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_OP_LOGOUT_ENDPOINT = os.environ.get("OIDC_OP_LOGOUT_ENDPOINT", "")
OIDC_OP_INTROSPECTION_ENDPOINT = os.environ.get("OIDC_OP_INTROSPECTION_ENDPOINT", "")
OIDC_RP_SCOPES = os.environ.get("OIDC_RP_SCOPES", "openid profile email voperson_id eduperson_entitlement")
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_USE_NONCE = True
OIDC_USE_PKCE = env_bool("OIDC_USE_PKCE", True)
OIDC_STORE_ID_TOKEN = True  # for id_token_hint at logout
OIDC_TIMEOUT = int(os.environ.get("OIDC_TIMEOUT", "10"))
OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = int(os.environ.get("OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS", "900"))
OIDC_AUTHENTICATE_CLASS = "egiportal.oidc.AuthenticateView"
OIDC_CALLBACK_CLASS = "egiportal.oidc.CallbackView"
OIDC_OP_LOGOUT_URL_METHOD = "egiportal.oidc.provider_logout_url"
OIDC_DISCOVERY_CACHE_SECONDS = int(os.environ.get("OIDC_DISCOVERY_CACHE_SECONDS", "3600"))
# Check-in access tokens on the APIs: validated at userinfo (or introspection, for a confidential
# client, with OIDC_INTROSPECT) and remembered this long; a revoked token works until then.
OIDC_USERINFO_CACHE_SECONDS = int(os.environ.get("OIDC_USERINFO_CACHE_SECONDS", "60"))
OIDC_INTROSPECT = env_bool("OIDC_INTROSPECT")
# Entitlements -> VO memberships: the authority whose values count, the roles on a VO and the subgroup
# that make a VO manager, and an entitlement every user must hold (GOCDB asks for
# urn:mace:egi.eu:res:gocdb#aai.egi.eu); empty means none.
EGI_ENTITLEMENT_AUTHORITY = os.environ.get("EGI_ENTITLEMENT_AUTHORITY", "aai.egi.eu")
EGI_VO_MANAGER_ROLES = frozenset(os.environ.get("EGI_VO_MANAGER_ROLES", "manager").split())
EGI_VO_MANAGER_SUBGROUP = os.environ.get("EGI_VO_MANAGER_SUBGROUP", "admins")
OIDC_REQUIRED_ENTITLEMENT = os.environ.get("OIDC_REQUIRED_ENTITLEMENT", "")
# Django's own user name and password login, for local administrators; LOCAL_LOGIN=false turns it off.
LOCAL_LOGIN = env_bool("LOCAL_LOGIN", True)
AUTHENTICATION_BACKENDS = ["egiportal.oidc.CheckinBackend"] + (
    ["django.contrib.auth.backends.ModelBackend"] if LOCAL_LOGIN else []
)
# Failed password logins allowed per account and per client address in a window of this many seconds; then
# that account or address is refused (even the right password) until the window ends. Check-in is not counted.
LOGIN_FAILURES_PER_ACCOUNT = int(os.environ.get("LOGIN_FAILURES_PER_ACCOUNT", "5"))
LOGIN_FAILURES_PER_ADDRESS = int(os.environ.get("LOGIN_FAILURES_PER_ADDRESS", "20"))
LOGIN_FAILURE_WINDOW_SECONDS = int(os.environ.get("LOGIN_FAILURE_WINDOW_SECONDS", "900"))
# Behind a TLS proxy that sets X-Forwarded-Proto (and strips it from clients): absolute URLs, such as the
# Check-in redirect URI, are https; plain http is redirected to https, browsers are told to use only https
# (HSTS), and cookies are sent only over https. Each can be set on its own.
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY")
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", BEHIND_TLS_PROXY)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the proxy's and the orchestrator's probes speak plain http
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000 if BEHIND_TLS_PROXY else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", BEHIND_TLS_PROXY)
X_FRAME_OPTIONS = "DENY"
# Every script, style, font and image is vendored and served by the portal itself (egiportal.middleware).
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
)
SESSION_COOKIE_SAMESITE = "Lax"  # "Strict" would drop the session on the provider's redirect back

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
        conn_health_checks=True,  # a kept connection that the server closed is replaced, not a failed request
    ),
}
# PostgreSQL statement_timeout in seconds (0: none) for web requests, and for the streamed unpaged PI
# replies while they stream (egiportal.dbtimeout); Celery tasks and management commands keep the server's.
DB_STATEMENT_TIMEOUT = float(os.environ.get("DB_STATEMENT_TIMEOUT", "15"))
DB_STREAM_STATEMENT_TIMEOUT = float(os.environ.get("DB_STREAM_STATEMENT_TIMEOUT", "600"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # Fails open (egiportal.caching): without Redis the portal answers, uncached and unthrottled, and says
    # so in the log and at /healthz; a Redis that does not answer costs a request at most this long.
    REDIS_TIMEOUT_SECONDS = float(os.environ.get("REDIS_TIMEOUT_SECONDS", "1"))
    CACHES = {
        "default": {
            "BACKEND": "egiportal.caching.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT_SECONDS, "socket_timeout": REDIS_TIMEOUT_SECONDS},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: Redis as broker when configured; otherwise tasks run eagerly in the calling process.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL or env_bool("CELERY_TASK_ALWAYS_EAGER")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Tasks that must happen (egiportal.outbox.OutboxTask) are acknowledged when over: a worker takes one
# message at a time, and Redis delivers again a message whose worker died after this many seconds.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_VISIBILITY_TIMEOUT = int(os.environ.get("CELERY_BROKER_VISIBILITY_TIMEOUT", "3600"))
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT,
    "unacked_restore_interval": min(10, CELERY_BROKER_VISIBILITY_TIMEOUT),
    "unacked_restore_throttle": 1,
    # A publication gives up on an unreachable broker within a second, not after kombu's default 4-6 s of
    # retries, so that no request waits on it: the outbox keeps the message for the relay.
    "socket_connect_timeout": 2,
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# The transactional outbox (egiportal.outbox): pending messages not handed over for OUTBOX_RELAY_AFTER
# seconds are published again by the relay, every OUTBOX_RELAY_INTERVAL seconds, until a run completes
# them or OUTBOX_MAX_ATTEMPTS runs failed (then they stay pending, with their last error, for an operator).
OUTBOX_RELAY_AFTER = int(os.environ.get("OUTBOX_RELAY_AFTER", "300"))
OUTBOX_RELAY_INTERVAL = int(os.environ.get("OUTBOX_RELAY_INTERVAL", "60"))
OUTBOX_MAX_ATTEMPTS = int(os.environ.get("OUTBOX_MAX_ATTEMPTS", "20"))
CELERY_BEAT_SCHEDULE = {
    "relay-outbox": {
        "task": "egiportal.tasks.relay_outbox",
        "schedule": OUTBOX_RELAY_INTERVAL,
        "options": {"expires": OUTBOX_RELAY_INTERVAL},  # relays that no worker took in time pile up for nothing
    },
    "resume-integrity-checks": {
        "task": "appliances.tasks.resume_integrity_checks",
        "schedule": 60,
        "options": {"expires": 60},
    },
    "image-list-notifications": {
        "task": "appliances.tasks.send_notifications",
        "schedule": 24 * 3600,
    },
    "accounting-summaries": {
        "task": "accounting.tasks.summarise_all",
        "schedule": 24 * 3600,
    },
}
# Accounting from an SSM receiver: the message path of `ssmreceive` (its dirq queue is PATH/incoming), read
# every ACCOUNTING_DIRQ_INTERVAL seconds when set (`manage.py accounting_receive PATH` reads it by hand).
ACCOUNTING_DIRQ_PATH = os.environ.get("ACCOUNTING_DIRQ_PATH", "")
ACCOUNTING_DIRQ_INTERVAL = int(os.environ.get("ACCOUNTING_DIRQ_INTERVAL", "60"))
if ACCOUNTING_DIRQ_PATH:
    CELERY_BEAT_SCHEDULE["accounting-receive"] = {
        "task": "accounting.tasks.receive_queue",
        "schedule": ACCOUNTING_DIRQ_INTERVAL,
        "options": {"expires": ACCOUNTING_DIRQ_INTERVAL},
    }

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))  # a stalled mail server fails the try, which is retried
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "portal@egi-portal.invalid")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))

# Marketplace (appliances): who signs the published image lists. IMAGE_LIST_SIGNER_CERT/_KEY/_CHAIN are PEM
# paths: an S/MIME signing certificate (extendedKeyUsage emailProtection, or none), its key, and the
# intermediate CAs up to the root that sites trust. Without them, the demo and debug modes sign with a demo
# PKI made on first use in IMAGE_LIST_DEMO_PKI_DIR; production refuses to publish.
IMAGE_LIST_SIGNER_CERT = os.environ.get("IMAGE_LIST_SIGNER_CERT", "")
IMAGE_LIST_SIGNER_KEY = os.environ.get("IMAGE_LIST_SIGNER_KEY", "")
IMAGE_LIST_SIGNER_CHAIN = os.environ.get("IMAGE_LIST_SIGNER_CHAIN", "")
IMAGE_LIST_DEMO_PKI_DIR = os.environ.get(
    "IMAGE_LIST_DEMO_PKI_DIR", str(BASE_DIR / "var" / "demo-pki") if DEMO or DEBUG else ""
)
IMAGE_LIST_ENDORSER_EMAIL = os.environ.get("IMAGE_LIST_ENDORSER_EMAIL", DEFAULT_FROM_EMAIL)
# The ad:vo of an appliance's own list (/store/vappliance/<name>/image.list): cloudkeeper needs one.
APPLIANCE_LIST_VO = os.environ.get("APPLIANCE_LIST_VO", "fedcloud.egi.eu")
# Integrity checks: a running check beats every second; one silent for INTEGRITY_HEARTBEAT_TIMEOUT seconds
# has lost its worker and is started again, at most INTEGRITY_MAX_ATTEMPTS times; a queued one that no
# worker took in INTEGRITY_RESEND_AFTER seconds is sent again (appliances.services.resume_integrity_checks).
INTEGRITY_HEARTBEAT_TIMEOUT = int(os.environ.get("INTEGRITY_HEARTBEAT_TIMEOUT", "120"))
INTEGRITY_MAX_ATTEMPTS = int(os.environ.get("INTEGRITY_MAX_ATTEMPTS", "3"))
INTEGRITY_RESEND_AFTER = int(os.environ.get("INTEGRITY_RESEND_AFTER", "300"))

# Public URL of the portal, used in e-mails, GOCDB_PORTAL_URL and PI links; without it, the local server
# on PORT (as `PORT=8080 make demo` runs it).
PORTAL_URL = os.environ.get("PORTAL_URL", f"http://127.0.0.1:{os.environ.get('PORT', '8000')}").rstrip("/")

# GOCDB instance configuration (specs/gocdb.md §3).
MAX_PROPERTIES_PER_ENTITY = int(os.environ.get("MAX_PROPERTIES_PER_ENTITY", "20"))
MINIMUM_SCOPES = int(os.environ.get("MINIMUM_SCOPES", "1"))
RESTRICT_PERSONAL_DATA = env_bool("RESTRICT_PERSONAL_DATA", True)

# Hostile filters: the most scope names and distinct property (extensions) terms one list filter takes,
# in the PI, REST and the browser alike. Each is one bounded query whatever the count; the caps keep
# even that query small. A request past them gets an error saying so.
FILTER_MAX_SCOPES = int(os.environ.get("FILTER_MAX_SCOPES", "50"))
FILTER_MAX_PROPERTY_TERMS = int(os.environ.get("FILTER_MAX_PROPERTY_TERMS", "20"))

# GOCDB programmatic interface (§11, §12). The front-proxy headers carrying a verified client
# certificate DN or OIDC subject are off by default: set them only behind a proxy that strips them
# from client requests.
PI_PAGE_SIZE = int(os.environ.get("PI_PAGE_SIZE", "100"))
PI_DEFAULT_SCOPE = os.environ.get("PI_DEFAULT_SCOPE", "EGI")
PI_DEFAULT_FILTER_BY_SCOPE = env_bool("PI_DEFAULT_FILTER_BY_SCOPE")
PI_DEFAULT_SCOPE_MATCH = os.environ.get("PI_DEFAULT_SCOPE_MATCH", "all")
PI_CLIENT_DN_HEADER = os.environ.get("PI_CLIENT_DN_HEADER", "")
PI_OIDC_SUBJECT_HEADER = os.environ.get("PI_OIDC_SUBJECT_HEADER", "")
API_CREDENTIAL_MAX_AGE_DAYS = int(os.environ.get("API_CREDENTIAL_MAX_AGE_DAYS", "395"))
WRITE_API_DOCS_URL = os.environ.get("WRITE_API_DOCS_URL", PORTAL_URL + "/gocdbpi/")

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Static files are served from the app folders unless collected (production runs collectstatic).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5.html"
DJANGO_TABLES2_PAGE_RANGE = 8
LIST_MAX_PER_PAGE = int(os.environ.get("LIST_MAX_PER_PAGE", "100"))  # rows a browser list shows at most per page

SESSION_COOKIE_HTTPONLY = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# --- REST API personal tokens and rate limiting (egiportal.api.authentication, .throttling) ---
# Requests allowed per API token (or session user, or anonymous client address): "<count>/<s|min|h|day>";
# empty turns rate limiting off. Refused requests get 429 with Retry-After.
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "1200/min")
# --- end REST API personal tokens ---

# Secret tokens (egiportal.tokens): the models that hold them, asked in this order by egiportal.identity,
# and the key of their digests (changing it invalidates every token).
PORTAL_TOKEN_MODELS = ("egiportal.APIToken", "sites.APICredential")
TOKEN_DIGEST_KEY = os.environ.get("TOKEN_DIGEST_KEY", "")

# REST API (/api/v1/): JSON by default, XML and CSV on request; tokens first, so that 401s say how to
# authenticate; every write also passes the services' own permission checks.
API_PAGE_SIZE = int(os.environ.get("API_PAGE_SIZE", "50"))
API_MAX_PAGE_SIZE = int(os.environ.get("API_MAX_PAGE_SIZE", "1000"))
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "egiportal.api.authentication.TokenAuthentication",
        "egiportal.api.authentication.CheckinAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticatedOrReadOnly",
        "egiportal.api.permissions.TokenWritePermission",
        "egiportal.api.permissions.SameSiteWritePermission",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["egiportal.api.throttling.TokenRateThrottle"],
    # The client address of rate limits and login throttling: the connection's, or behind the TLS proxy the
    # one it appended to X-Forwarded-For; what clients write there themselves never counts.
    "NUM_PROXIES": 1 if env_bool("BEHIND_TLS_PROXY") else 0,
    "DEFAULT_PAGINATION_CLASS": "egiportal.api.pagination.Pagination",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
        "egiportal.api.renderers.XMLRenderer",
        "egiportal.api.renderers.CSVRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_METADATA_CLASS": "egiportal.api.metadata.Metadata",
    "DEFAULT_SCHEMA_CLASS": "egiportal.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "egiportal.api.viewsets.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "EGI Portal API",
    "DESCRIPTION": "The configuration database (and, later, the marketplace and accounting) over REST.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    # No validator badge: Swagger UI would send the schema's URL to an outside validation service.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None, "filter": True},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The `.json`-style suffix routes are the same operations as the plain ones (path routes list them too).
    "PREPROCESSING_HOOKS": ["drf_spectacular.hooks.preprocess_exclude_path_format"],
    # Choice sets whose field names other models use too (a role's `status`, a list's `state`).
    "ENUM_NAME_OVERRIDES": {
        "VersionStateEnum": "appliances.choices.VersionState",
        "IntegrityStatusEnum": "appliances.choices.IntegrityStatus",
        "JobStateEnum": "appliances.choices.JobState",
        "ListStateEnum": "appliances.choices.ListState",
        "StatusEnum": "sites.choices.RoleStatus",  # its name before the marketplace came
    },
}

# --- Marketplace image downloads (appliances.integrity) ---
# The integrity check downloads each image once to measure its size and SHA-512: the largest image accepted
# (bytes), the longest a whole download may take (seconds), and how many redirects it follows (0, like AppDB:
# the tools at sites may not follow them, so authors are asked for the final URL).
IMAGE_MAX_SIZE = int(os.environ.get("IMAGE_MAX_SIZE", str(50 * 1024**3)))
IMAGE_TOTAL_TIMEOUT = float(os.environ.get("IMAGE_TOTAL_TIMEOUT", str(6 * 3600)))
IMAGE_MAX_REDIRECTS = int(os.environ.get("IMAGE_MAX_REDIRECTS", "0"))
# Authors choose the URLs the portal fetches: off, it refuses hosts that resolve to loopback, private,
# link-local or multicast addresses (no probing of internal services); on by default only for the demo and
# development, whose image servers run on 127.0.0.1.
IMAGE_ALLOW_PRIVATE_ADDRESSES = env_bool("IMAGE_ALLOW_PRIVATE_ADDRESSES", DEMO or DEBUG)
# --- end Marketplace image downloads ---
