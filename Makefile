# The two commands of the README:
#   make run    install everything, migrate, load the demo data, serve on http://127.0.0.1:8000
#   make test   install the test tools too (Chromium through apt-get when root), then lint,
#               type-check (Python: app and tests; JavaScript: tsc and ESLint) and run the whole suite
# Both are idempotent: an install step reruns only when its lock file changed.
# DB=postgresql runs the suite on PostgreSQL (PASSEPORT_TEST_POSTGRES_URL, default local server).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
DB     ?= sqlite
PYTEST_ARGS ?=

export PASSEPORT_TEST_DATABASE := $(DB)
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: run test install install-dev system-fonts system-chromium lint typecheck jscheck pytest bench clean

run: install
	$(BIN)/passeport db upgrade
	$(BIN)/passeport demo
	$(BIN)/passeport serve --host $(HOST) --port $(PORT)

test: system-chromium install-dev lint typecheck jscheck pytest

install: $(VENV)/.runtime frontend/node_modules/.installed system-fonts

install-dev: $(VENV)/.dev frontend/node_modules/.installed tests/wallet/node_modules/.installed system-fonts

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found %s); set PYTHON=python3.x" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.lock pyproject.toml | $(VENV)/bin/python
	$(PIP) install -r requirements.lock
	$(PIP) install --no-deps -e .
	@touch $@

$(VENV)/.dev: requirements-dev.lock pyproject.toml | $(VENV)/bin/python
	$(PIP) install -r requirements-dev.lock
	$(PIP) install --no-deps -e .
	@touch $@ $(VENV)/.runtime

frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 18+) is needed for the design system assets"; exit 1; }
	cd frontend && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# The independent wallet the interop tests drive (tests/wallet/, docs/wallet-testing.md).
tests/wallet/node_modules/.installed: tests/wallet/package.json tests/wallet/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 20+) is needed for the test wallet"; exit 1; }
	cd tests/wallet && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# Debian packages the app and its tests need: installed through apt-get when run as root, otherwise
# the make stops at once, in one line naming the command to run (see README, "Two commands").
# The PDFs embed DejaVu Sans, which covers Latin Extended and Vietnamese (app/core/pdf.py).
FONT_FILE      ?= /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
# The browser tests drive Debian's Chromium: a test tool's own browser download does not work here.
CHROMIUM       ?= /usr/bin/chromium
APT_INSTALL    := DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq

CAN_APT        := $(if $(filter 0,$(shell id -u)),$(shell command -v apt-get))

# $(error) stops make in one line; it is expanded only when the target runs.
system-fonts:
	$(if $(wildcard $(FONT_FILE)),@true,$(if $(CAN_APT),,$(error The PDFs need DejaVu Sans: run 'sudo apt-get install fonts-dejavu-core', then make again)))
	$(if $(wildcard $(FONT_FILE)),,apt-get -o DPkg::Lock::Timeout=600 update -qq && $(APT_INSTALL) fonts-dejavu-core >/dev/null)

system-chromium:
	$(if $(wildcard $(CHROMIUM)),@true,$(if $(CAN_APT),,$(error The browser tests need Chromium: run 'sudo apt-get install chromium', then make test again)))
	$(if $(wildcard $(CHROMIUM)),,apt-get -o DPkg::Lock::Timeout=600 update -qq && $(APT_INSTALL) chromium >/dev/null)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

# The pages' scripts, as the browser runs them (no build step): TypeScript checks their JSDoc types
# (pages, then service workers: another global scope), ESLint its recommended rules. Both come
# from frontend/package-lock.json (devDependencies), installed by install-dev.
NODE_BIN := frontend/node_modules/.bin
jscheck: frontend/node_modules/.installed
	$(NODE_BIN)/tsc -p frontend/tsconfig.json
	$(NODE_BIN)/tsc -p frontend/tsconfig.worker.json
	cd frontend && node_modules/.bin/eslint --max-warnings 0 .

pytest:
	$(BIN)/pytest -n auto $(PYTEST_ARGS)

# wrk is the load generator (an httpx loop measured its own speed, not the server's): installed
# through apt-get when run as root, otherwise one line naming the command.
bench: install-dev
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; } \
		|| { echo "wrk is needed: run \`apt-get install -y wrk\` as root (Debian), then make bench"; exit 1; }
	$(BIN)/python -m bench.run --database sqlite --database postgres --check-targets $(BENCH_ARGS)

clean:
	rm -rf $(VENV) frontend/node_modules tests/wallet/node_modules .mypy_cache .ruff_cache .pytest_cache
