# `make run` and `make test` work on a fresh machine: each builds the virtual
# environment it needs first. PYTHON must be 3.11 or newer.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHROMIUM := /usr/bin/chromium
FAKETIME := /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1

.PHONY: run test setup browser java oidc-provider clean

run: setup
	$(PY) app.py

# Every test, slow ones included; a missing browser or Java fails here instead of skipping.
# The quick loop while editing: `pytest -m "not slow"`.
test: setup browser java oidc-provider
	ADOPTION_REQUIRE_BROWSER=1 ADOPTION_REQUIRE_SPARK=1 $(PY) -m pytest

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Browser tests drive Debian's Chromium through Playwright (no browser download).
browser: $(CHROMIUM) $(FAKETIME)

$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# `adoption rollup --engine spark` (and its parity tests) run Spark, which needs Java 17+.
java:
	@command -v java >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }

# The queue's browser test moves the server's clock past a snooze with libfaketime.
$(FAKETIME):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null

# The sign-in tests' OpenID provider: node's oidc-provider from the npm registry, as locked.
OIDC_PROVIDER := tests/oidc_provider

oidc-provider: $(OIDC_PROVIDER)/node_modules/.package-lock.json

$(OIDC_PROVIDER)/node_modules/.package-lock.json: $(OIDC_PROVIDER)/package.json $(OIDC_PROVIDER)/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix $(OIDC_PROVIDER) --no-audit --no-fund; \
	else echo "npm is missing: the OpenID Connect sign-in tests will be skipped"; fi

clean:
	rm -rf $(VENV) data/demo data/adoption.duckdb
