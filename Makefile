# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Absolute links (PI paging, GOCDB_PORTAL_URL, e-mails, the docs) follow the demo's port unless set.
PORTAL_URL ?= http://127.0.0.1:$(PORT)
# The demo, the tests, the benchmark and `make worker` run in demo mode: the development SECRET_KEY may
# serve (settings.py refuses it otherwise). Production sets SECRET_KEY and runs gunicorn (README).
export DEMO ?= true

.PHONY: demo demo-checkin test lint format bench worker clean

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

demo: $(VENV)/.installed
	$(PY) manage.py migrate --no-input
	PORTAL_URL=$(PORTAL_URL) $(PY) manage.py load_demo
	PORTAL_URL=$(PORTAL_URL) $(PY) manage.py load_demo_marketplace
	PORTAL_URL=$(PORTAL_URL) $(PY) manage.py load_demo_accounting
	PORTAL_URL=$(PORTAL_URL) $(PY) manage.py runserver 127.0.0.1:$(PORT)

# The demo with EGI Check-in login against the local test provider of tests/oidc_op (accounts in its
# accounts.json: alice/alice-pw is a VO manager, bob/bob-pw a member); the provider stops with the portal.
OP_PORT ?= 9000
demo-checkin: $(VENV)/.installed tests/oidc_op/node_modules/.package-lock.json
	@command -v node >/dev/null || { echo "demo-checkin needs Node.js (node and npm)"; exit 1; }
	OP_PORT=$(OP_PORT) OP_REDIRECT_URIS=http://127.0.0.1:$(PORT)/oidc/callback/ OP_POST_LOGOUT_URIS=http://127.0.0.1:$(PORT)/ \
	  node tests/oidc_op/provider.mjs & trap "kill $$!" EXIT; \
	OIDC_OP_ISSUER=http://127.0.0.1:$(OP_PORT) OIDC_RP_CLIENT_ID=portal OIDC_RP_CLIENT_SECRET=portal-secret $(MAKE) demo

# The local OpenID provider for the login tests (tests/oidc_op); npm rewrites node_modules/.package-lock.json on
# every install. Without npm the login tests skip (CI fails them), so only a note is printed.
OP_DIR := tests/oidc_op
$(OP_DIR)/node_modules/.package-lock.json: $(OP_DIR)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix $(OP_DIR) --no-audit --no-fund; \
	else echo "npm not found: skipping $(OP_DIR) install, the OpenID login tests will be skipped"; fi

test: $(VENV)/.installed $(OP_DIR)/node_modules/.package-lock.json
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(VENV)/.installed
	$(PY) bench/run.py $(BENCH_ARGS)

worker: $(VENV)/.installed
	$(VENV)/bin/celery -A egiportal worker --loglevel=info

clean:
	rm -rf $(VENV) db.sqlite3 var
