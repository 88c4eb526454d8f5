# The two commands: `make run` (embedded default, no services needed) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench clean migrate demo fakestripe

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

# Embedded default: SQLite under var/, the filesystem Celery broker, mail as files in var/mail/.
# With no real Stripe key configured, the fake Stripe server starts beside the web server and the app
# talks to it, so the embedded default pays workers too.
STRIPE_FAKE_PORT ?= 12111
run: $(VENV)/.runtime-installed
	@mkdir -p var/mail var/broker/out var/broker/processed
	@# WEB_PORT, not PORT: honcho hands each process its own PORT (5000, 5100, ...).
	@export DEBUG=$${DEBUG:-1} HOST=$(HOST) PORT=$(PORT) WEB_PORT=$(PORT) STRIPE_FAKE_PORT=$(STRIPE_FAKE_PORT) && \
	export STRIPE_WEBHOOK_SECRET=$${STRIPE_WEBHOOK_SECRET:-whsec_fake} && \
	export SECURE_SSL_REDIRECT=$${SECURE_SSL_REDIRECT:-0} && \
	export WEBHOOKS_ALLOW_PRIVATE_URLS=$${WEBHOOKS_ALLOW_PRIVATE_URLS:-1} && \
	if [ -z "$$STRIPE_SECRET_KEY" ] || [ "$$STRIPE_SECRET_KEY" = sk_test_fake ]; then \
	  export STRIPE_API_BASE=$${STRIPE_API_BASE:-http://127.0.0.1:$(STRIPE_FAKE_PORT)}; \
	  cat Procfile.dev Procfile.fakestripe > var/Procfile; \
	else cp Procfile.dev var/Procfile; fi && \
	$(BIN)/python manage.py migrate --noinput && \
	$(BIN)/python manage.py seed_demo && \
	exec $(BIN)/honcho -d . -f var/Procfile start

# PostgreSQL and Redis when reachable (TEST_DATABASE_URL, REDIS_URL), SQLite otherwise;
# REQUIRE_SERVICES=1 makes a missing service an error.
test: $(VENV)/.dev-installed
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .

bench: $(VENV)/.dev-installed
	@echo "Benchmarks live in bench/ (see docs/benchmarks.md); run one with $(BIN)/python -m bench.<name>"

clean:
	rm -rf var .pytest_cache .ruff_cache
