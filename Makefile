# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# `make test` runs `make lint` first (LINT=0 skips it).
LINT   ?= 1

.PHONY: run manage test lint bench load check-deploy screenshots clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a requirements file changed.
$(VENV)/.runtime: requirements.txt | $(PY)
	$(PIP) install -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PIP) install -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime ## Start the portal on the embedded Cognito (or the pool configured in .env)
	@scripts/run

manage: $(VENV)/.runtime ## Run a manage.py command on the pool and database of a running `make run`: make manage ARGS="cognito_check"
	@scripts/manage $(ARGS)

test: $(VENV)/.dev $(if $(filter 1,$(LINT)),lint) ## Install what tests need and run the whole suite (LINT=1: lint first)
	@scripts/ensure-chromium
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev ## ruff's linter and formatter in check mode (configured in pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(VENV)/.dev ## Cognito calls per operation and the ratios, at 10,000 and 100,000 users (a few minutes)
	$(PY) bench/run.py $(BENCH_ARGS)

load: $(VENV)/.dev ## 20 staff on gunicorn (4 workers) and the embedded Cognito, on loopback, then invariants
	$(PY) bench/load.py $(LOAD_ARGS)

check-deploy: $(VENV)/.runtime ## Django's deployment checklist under production settings
	DJANGO_SETTINGS_MODULE=portal.settings.production DJANGO_SECRET_KEY=$$(head -c 48 /dev/urandom | base64) \
	  DJANGO_ALLOWED_HOSTS=portal.example.com $(PY) manage.py check --deploy --fail-level WARNING

screenshots: $(VENV)/.dev ## Regenerate the README's screenshots in docs/ (sign-in, directory, user page)
	@scripts/ensure-chromium
	PORTAL_SCREENSHOTS=$(CURDIR)/docs $(PY) -m pytest tests/e2e/test_look.py -q -k readme_screenshots

clean:
	rm -rf $(VENV) var
