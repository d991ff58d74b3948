# Developer and CI entry points. Everything runs from the project venv (.venv/),
# which `make venv` creates and keeps in sync with pyproject.toml.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := test
.PHONY: venv chromium postgres node js-tools test lint format demo bench wrk clean distclean

## venv: create .venv and install the package with its test extras (re-runs only
## when pyproject.toml changes).
venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

## chromium: make sure Playwright has a Chromium to drive. Its own download needs
## internet access we may not have, so fall back to the distro package.
PW_BROWSERS := $${PLAYWRIGHT_BROWSERS_PATH:-$${XDG_CACHE_HOME:-$$HOME/.cache}/ms-playwright}

chromium:
	@if [ -n "$${CONSENT_GATE_CHROMIUM:-}" ]; then \
	    if [ -x "$$CONSENT_GATE_CHROMIUM" ]; then \
	        echo "chromium: using CONSENT_GATE_CHROMIUM=$$CONSENT_GATE_CHROMIUM"; exit 0; \
	    fi; \
	    echo "chromium: CONSENT_GATE_CHROMIUM=$$CONSENT_GATE_CHROMIUM is not an executable" >&2; \
	    exit 1; \
	fi; \
	if [ -x /usr/bin/chromium ]; then echo "chromium: using /usr/bin/chromium"; exit 0; fi; \
	if ls "$(PW_BROWSERS)"/chromium_headless_shell-*/INSTALLATION_COMPLETE >/dev/null 2>&1; then \
	    echo "chromium: using Playwright's bundled Chromium"; exit 0; \
	fi; \
	for name in chromium-browser google-chrome; do \
	    if command -v $$name >/dev/null 2>&1; then echo "chromium: using $$(command -v $$name)"; exit 0; fi; \
	done; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "chromium: no Chromium found and no apt-get. Install Chromium with your package" >&2; \
	    echo "manager, or run '$(BIN)/playwright install chromium', or set CONSENT_GATE_CHROMIUM." >&2; \
	    exit 1; \
	fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; \
	elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	else \
	    echo "chromium: no Chromium found. As root run:" >&2; \
	    echo "  apt-get update && apt-get install -y chromium" >&2; \
	    echo "or set CONSENT_GATE_CHROMIUM=/path/to/chromium." >&2; \
	    exit 1; \
	fi; \
	echo "chromium: installing Debian's chromium package"; \
	$$SUDO apt-get update && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

## postgres: the consent-log tests run against a real PostgreSQL server, which they start
## themselves (a throwaway cluster on loopback); this makes sure Debian's package is there.
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "postgres: no PostgreSQL and no apt-get; its tests will be SKIPPED" >&2; exit 0; \
	fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; \
	elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	else \
	    echo "postgres: not installed; PostgreSQL tests will be SKIPPED. As root run:" >&2; \
	    echo "  apt-get update && apt-get install -y postgresql" >&2; \
	    exit 0; \
	fi; \
	echo "postgres: installing Debian's postgresql package"; \
	$$SUDO apt-get update && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql

## node: a few unit tests run the gate's head script in Node (faster than a browser).
node:
	@if command -v node >/dev/null 2>&1; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "node: not found and no apt-get; the Node-run tests will be SKIPPED" >&2; exit 0; \
	fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; \
	elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	else \
	    echo "node: not installed; the Node-run tests will be SKIPPED. As root run:" >&2; \
	    echo "  apt-get update && apt-get install -y nodejs" >&2; \
	    exit 0; \
	fi; \
	echo "node: installing Debian's nodejs package"; \
	$$SUDO apt-get update && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs

## js-tools: the checkers of the browser scripts (ESLint, TypeScript), pinned by
## package-lock.json, installed with `npm ci` into node_modules/ (re-runs only when the lock
## changes). Needs Node.js and npm: Debian's packages, installed here as root or with sudo.
JS_STAMP := node_modules/.installed

js-tools: $(JS_STAMP)

$(JS_STAMP): package.json package-lock.json
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; \
	elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	else \
	    echo "js-tools: the JS checks need Node.js and npm. As root run:" >&2; \
	    echo "  apt-get update && apt-get install -y nodejs npm" >&2; \
	    exit 1; \
	fi; \
	echo "js-tools: installing Debian's nodejs and npm packages"; \
	$$SUDO apt-get update && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

## lint: static checks only: the Python (ruff, mypy) and the browser scripts (ESLint, and
## tsc checking their JSDoc types; see jsconfig.json).
lint: venv js-tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	node_modules/.bin/eslint --max-warnings=0 .
	node_modules/.bin/tsc -p jsconfig.json

## test: lint, then the whole suite (browser tests included) under coverage. The browser tests
## (mostly waiting on Chromium) run in a process of their own beside the rest (mostly Python);
## their output follows. Plain `pytest` runs everything in turn, browser tests last.
test: lint chromium postgres node
	rm -f .coverage .coverage.* .browser-tests.log
	@$(BIN)/coverage run -p -m pytest --hypothesis-profile=replay -p no:cacheprovider \
	    tests/browser >.browser-tests.log 2>&1 & browser=$$!; \
	trap 'kill $$browser 2>/dev/null' INT TERM; \
	$(BIN)/coverage run -p -m pytest --hypothesis-profile=replay --ignore=tests/browser; \
	rest=$$?; wait $$browser; browser=$$?; \
	echo "==== tests/browser (run beside the rest) ===="; cat .browser-tests.log; \
	$(BIN)/coverage combine -q && $(BIN)/coverage report; \
	[ $$rest -eq 0 ] && [ $$browser -eq 0 ]

## format: rewrite files to the house style and apply safe lint fixes.
format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## demo: the demo site, with only what it needs (the package and uvicorn), not the test tools.
DEMO_STAMP := $(VENV)/.installed-demo

$(DEMO_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $@

demo: $(DEMO_STAMP)
	$(BIN)/python -m demo_site

## bench: rewriter throughput, the engine end to end beside its competitors (bench/engine.py), req/s under uvicorn (wrk), memory and streaming; prints a report
## and writes bench/results/latest.json; bench/json_http.py: a JSON response's req/s under uvicorn,
## bare vs gated (the lean path's cost); then bench/consent_log.py: the decision endpoint's
## req/s with the consent log on and off. Needs the `bench` extra and wrk (installed here if
## missing: Debian's package, as root or with sudo).
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

wrk:
	@if command -v wrk >/dev/null 2>&1; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "wrk: not found and no apt-get; install wrk, or the HTTP part is reported as N/A" >&2; \
	    exit 0; \
	fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; \
	elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	else \
	    echo "wrk: not found. As root run: apt-get update && apt-get install -y wrk" >&2; \
	    exit 0; \
	fi; \
	echo "wrk: installing Debian's wrk package"; \
	$$SUDO apt-get update && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y wrk

bench: $(BENCH_STAMP) wrk postgres
	$(BIN)/python bench/run.py
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/json_http.py
	$(BIN)/python bench/consent_log.py

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage .coverage.* .browser-tests.log htmlcov build dist
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
	find . -path ./$(VENV) -prune -o -name '*.egg-info' -type d -exec rm -rf {} +

## distclean: clean, and drop the venv and the JS checkers too.
distclean: clean
	rm -rf $(VENV) node_modules
