"""gunicorn settings of the production portal: `gunicorn -c gunicorn.conf.py egiportal.wsgi` (README).

Every value can be set from the environment. Threaded workers (gthread) keep a worker's heartbeat going
while its threads serve, so an unpaged PI reply that streams for minutes (get_downtime at ten times
EGI's size is some 370 MB) is not cut by the worker timeout, as it is under the default sync worker;
the timeout then only catches a worker that is stuck as a whole.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * (os.cpu_count() or 1) + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Seconds without a heartbeat before a worker is restarted; with gthread a long stream does not count.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
# Seconds a stopping or reloading worker has to finish its replies, streams included.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "600"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# A worker is replaced after this many requests (with jitter), bounding the growth of its memory.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "500"))
# Limits on the request line and headers (gunicorn's defaults), refused with 400 beyond.
limit_request_line = int(os.environ.get("GUNICORN_LIMIT_REQUEST_LINE", "8190"))
# Behind the TLS proxy: trust its X-Forwarded-* headers only from these addresses.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = os.environ.get("GUNICORN_ERRORLOG", "-")
# Import the portal once in the master, so workers share its memory (egiportal.wsgi freezes it).
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").lower() in ("1", "true", "yes", "on")
