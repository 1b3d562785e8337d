# Two commands matter: `make demo` and `make test`. Both create .venv on first use and install
# exactly the versions pinned in requirements.lock.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PIP_VERSION := 26.3
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lock clean-venv bench bench-quick

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "pip==$(PIP_VERSION)"

$(STAMP): $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[dev,bench]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	# Stage commands call `txresponse`, so the venv must be on PATH for DVC's shell.
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro
	@$(BIN)/python -m pipeline.outputs

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# Every benchmark, one table in docs/benchmarks.md (about 35 min on 2 cores; run it alone).
bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m benchmarks.run

# A reduced run (under 2 minutes) into build/bench/; never touches docs/.
bench-quick: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m benchmarks.run --quick

# Re-pin after changing dependencies in pyproject.toml: resolves into a fresh venv and writes
# every installed version (transitive ones included) to requirements.lock.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet "pip==$(PIP_VERSION)"
	.lock-venv/bin/pip install --quiet ".[dev,bench]"
	.lock-venv/bin/pip freeze --exclude txresponse > requirements.lock
	rm -rf .lock-venv

clean-venv:
	rm -rf $(VENV)
