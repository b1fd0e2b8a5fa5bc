# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
DEV_ENV := APP_ENV=development

AXE := tests/browser/node_modules/axe-core/axe.min.js
PLATFORM_APP := tests/platform/node_modules/.package-lock.json

.PHONY: install run test lint bench screenshot vectors openapi clean

install: $(STAMP)

# axe-core (npm) for the browser tests' accessibility scan; skipped where npm is absent,
# in which case the browser tests say so (and CI, which has npm, fails instead).
$(AXE): tests/browser/package-lock.json
	if command -v npm >/dev/null; then cd tests/browser && npm ci --no-audit --no-fund; fi

# The minimal Next.js platform (NextAuth v4) of the end-to-end test, from the npm registry;
# skipped where npm is absent, as axe-core is. The test builds it (`next build`) itself.
$(PLATFORM_APP): tests/platform/package-lock.json
	if command -v npm >/dev/null; then cd tests/platform && npm ci --no-audit --no-fund; fi

# A development checkout: runtime and dev pins (production installs requirements.txt alone).
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

SANDBOX_PORT ?= 8101

# Serves the app with demo data; local sandbox providers (the test stand-ins) stand in for
# Instagram, TikTok and Reddit so Connect and Reconnect can be tried without accounts there.
run: install
	$(DEV_ENV) $(BIN)/flask --app wsgi db upgrade
	$(DEV_ENV) $(BIN)/flask --app wsgi seed-demo --user-id 1
	@$(BIN)/python -m tests.standins --port $(SANDBOX_PORT) --env-file instance/sandbox.env \
		--demo-user 1 & sandbox=$$!; trap "kill $$sandbox 2>/dev/null" EXIT INT TERM; \
	for _ in 1 2 3 4 5 6 7 8 9 10; do test -s instance/sandbox.env && break; sleep 0.3; done; \
	echo; \
	echo "  Sign in as the demo creator: http://$(HOST):$(PORT)/dev/sign-in?user=1"; \
	echo "  Integrations page:           http://$(HOST):$(PORT)/integrations"; \
	echo "  Status API (JSON):           http://$(HOST):$(PORT)/api/integrations/status"; \
	echo; \
	set -a; . instance/sandbox.env; set +a; \
	$(DEV_ENV) WEB_CONCURRENCY=1 GUNICORN_BIND=$(HOST):$(PORT) $(BIN)/gunicorn -c gunicorn.conf.py \
		wsgi:app

test: install $(AXE) $(PLATFORM_APP)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check webapp tests migrations wsgi.py gunicorn.conf.py
	$(BIN)/ruff format --check webapp tests migrations wsgi.py gunicorn.conf.py
	$(BIN)/mypy webapp

# Refresh README's docs/screenshot.png with the browser tests' own code.
screenshot: install $(AXE)
	UPDATE_SCREENSHOT=1 $(BIN)/pytest -q tests/browser -k readme_screenshot

bench: install
	@command -v wrk >/dev/null || { echo "Installing wrk (Debian package)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Rewrite the accountName pattern of webapp/web/openapi.yaml from webapp/integrations/names.py's rule.
openapi: install
	$(BIN)/python -m tests.support.openapi_names

# Regenerate the NextAuth test vectors with NextAuth's own npm packages.
vectors:
	cd tests/vectors/nextauth && npm ci && node generate.mjs

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache .hypothesis tests/platform/.build
