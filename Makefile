# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
DEV_ENV := APP_ENV=development

AXE := tests/browser/node_modules/axe-core/axe.min.js

.PHONY: install run test lint bench vectors clean

install: $(STAMP)

# axe-core (npm) for the browser tests' accessibility scan; skipped where npm is absent,
# in which case the browser tests say so (and CI, which has npm, fails instead).
$(AXE): tests/browser/package-lock.json
	if command -v npm >/dev/null; then cd tests/browser && npm ci --no-audit --no-fund; fi

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

run: install
	$(DEV_ENV) $(BIN)/flask --app wsgi db upgrade
	$(DEV_ENV) $(BIN)/flask --app wsgi seed-demo --user-id 1
	@echo
	@echo "  Sign in as the demo creator: http://$(HOST):$(PORT)/dev/sign-in?user=1"
	@echo "  Status API:                  http://$(HOST):$(PORT)/api/integrations/status"
	@echo
	$(DEV_ENV) WEB_CONCURRENCY=1 GUNICORN_BIND=$(HOST):$(PORT) $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

test: install $(AXE)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check webapp tests migrations wsgi.py gunicorn.conf.py
	$(BIN)/ruff format --check webapp tests migrations wsgi.py gunicorn.conf.py
	$(BIN)/mypy webapp

# Regenerate the NextAuth test vectors with NextAuth's own npm packages.
vectors:
	cd tests/vectors/nextauth && npm ci && node generate.mjs

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
