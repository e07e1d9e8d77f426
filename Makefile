# Two commands for a fresh machine: `make prepare` (set up + main job) and `make test`.
# Each creates the virtual environment from requirements.txt when it is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup prepare test bench clean

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

setup: $(VENV)/.installed

prepare: setup
	$(PY) -m deap_lib prepare

test: setup
	$(PY) -m pytest -q tests

bench: setup
	$(PY) benchmarks/bench_reduce.py
	$(PY) benchmarks/bench_training.py

clean:
	rm -rf _build .pytest_cache
