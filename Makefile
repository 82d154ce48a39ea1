# Pagecast: `make run` serves the app with its worker and beat; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.8
export DATA_DIR ?= $(CURDIR)/var
export PORT ?= 8000
PACKAGES := core users document_processing speech_processing sharing operations exports web pagecast_cli bench

.PHONY: run test lint typecheck pytest e2e bench bench-quick venv migrate clean lock browser-tools bytecode

venv: $(VENV)/.synced

# The venv is rebuilt from the lock file whenever the lock file changes. Its modules are compiled
# to bytecode as they are installed: where PYTHONDONTWRITEBYTECODE is set, as on these machines,
# every process (each test worker, gunicorn worker, Celery worker, `pagecast convert`) would
# otherwise compile every module it imports from source, seconds each time.
$(VENV)/.synced: uv.lock pyproject.toml Makefile
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --compile-bytecode --python $(VENV)/bin/python --quiet
	@touch $@

# The project's own modules, compiled once for the many processes a test or benchmark run starts
# (as the venv's are; a module edited since is compiled again in memory, never used stale).
bytecode: venv
	@$(VENV)/bin/python -m compileall -q -j 0 $(PACKAGES) >/dev/null

lock:
	$(UV) lock

migrate: venv
	$(VENV)/bin/python manage.py migrate --noinput

run: venv bytecode
	@$(VENV)/bin/python -m pagecast_cli.serve

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/bandit --quiet --recursive --severity-level medium --exclude '*/tests/*' \
		$(PACKAGES)

typecheck: venv
	$(VENV)/bin/mypy .

# Tests run in parallel, one process per core (PYTEST_WORKERS=0 runs them in this process).
PYTEST_WORKERS ?= 2
pytest: venv bytecode browser-tools
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS)

# Browser tests (headless Chromium; skipped, with the reason, when it is not installed). axe-core
# (the accessibility checks) comes from the npm registry, at the version package-lock.json pins.
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm is not installed: the browser tests' accessibility checks are skipped"; fi

browser-tools: node_modules/.installed

e2e: venv bytecode browser-tools
	$(VENV)/bin/pytest -m e2e

test: lint typecheck pytest

bench: venv bytecode
	$(VENV)/bin/python -m bench.run

# Every figure once at small sizes (under 2 minutes), into bench/results-quick.json.
bench-quick: venv bytecode
	$(VENV)/bin/python -m bench.run --quick

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache node_modules
