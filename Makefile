# The two commands: `make run` (embedded default, no services needed) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1

.PHONY: run test lint bench clean migrate demo fakestripe screenshots

# One line per install step (pip itself stays quiet): the first start takes minutes (README, "The two commands").
$(BIN)/python:
	@echo "make: [1/3] creating $(VENV) with $(PYTHON) (once)"
	$(PYTHON) -m venv $(VENV)
	@echo "make: [2/3] upgrading pip in $(VENV)"
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	@echo "make: [3/3] installing requirements.txt into $(VENV) (first time: about 50 MB of wheels, a few minutes)"
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@
	@echo "make: requirements installed"

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	@echo "make: [3/3] installing requirements-dev.txt (the runtime and test tools) into $(VENV) (first time: several minutes)"
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed
	@echo "make: requirements and test tools installed"

# Embedded default: SQLite under var/, the filesystem Celery broker, mail as files in var/mail/.
# With no real Stripe key configured, the fake Stripe server starts beside the web server and the app
# talks to it, so the embedded default pays workers too. The first start writes var/local.env (a generated
# SECRET_KEY, DEBUG=1, the ports; marketplace/localenv.py) and exports MARKETPLACE_DEV=1, the switch under
# which settings read it; a later shell's manage.py commands read it after `export MARKETPLACE_DEV=1`.
# PORT and STRIPE_FAKE_PORT: given on the command line (make run PORT=8100), else var/local.env's, else
# 8000 and 12111. prepare-run refuses, in one line and before anything is migrated, seeded or written, when
# a port is taken or a stack of this checkout is running; it records this shell ($$, which execs honcho) in
# var/make-run.pid, and stops at a bad setting (naming its file and line) before migrate.
run: $(VENV)/.runtime-installed
	@exports="$$($(BIN)/python -m marketplace.localenv prepare-run --host '$(HOST)' --port '$(PORT)' \
	             --stripe-fake-port '$(STRIPE_FAKE_PORT)' --run-pid "$$$$")" && eval "$$exports" && \
	$(BIN)/python manage.py migrate --noinput && \
	$(BIN)/python manage.py seed_demo && \
	exec $(BIN)/honcho -d . -f "$$PROCFILE" start

# PostgreSQL and Redis when reachable (TEST_DATABASE_URL, REDIS_URL), SQLite otherwise;
# REQUIRE_SERVICES=1 makes a missing service an error.
test: $(VENV)/.dev-installed
	$(BIN)/pytest $(PYTEST_ARGS)

# README.md's three screenshots (docs/screenshots/*.png, 1280 x 800): the browser tests that walk those pages,
# with README_SCREENSHOTS=1 (tests/readme_screenshots.py). Needs chromium and chromium-driver, PostgreSQL.
# The old files are removed first, so a skipped test leaves one missing and the check after says so.
SCREENSHOT_TESTS := \
	tests/webapp/browser/test_give_back.py::test_return_on_the_task_page_gives_the_task_back_and_claims_no_other \
	tests/marketplace/test_consoles_browser.py::test_ops_sees_which_project_is_behind_and_reads_pay_in_units \
	tests/marketplace/test_consoles_browser.py::test_finance_sees_its_console_and_not_ops

screenshots: $(VENV)/.dev-installed
	rm -f docs/screenshots/worker-task.png docs/screenshots/ops-console.png docs/screenshots/finance-console.png
	README_SCREENSHOTS=1 $(BIN)/pytest -q $(SCREENSHOT_TESTS)
	README_SCREENSHOTS=1 $(BIN)/pytest -q tests/test_readme_screenshots.py
	@ls -l docs/screenshots/

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: $(VENV)/.dev-installed
	@echo "Benchmarks live in bench/ (see docs/benchmarks.md); run one with $(BIN)/python -m bench.<name>"

clean:
	rm -rf var .pytest_cache .ruff_cache .import_linter_cache
