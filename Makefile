# Two commands for a fresh machine: `make book` (set up + build the whole book) and `make test`.
# Each creates the virtual environment from requirements.txt when it is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

PROFILE ?= quick
DEAP_DIR ?=

.PHONY: setup book prepare test unit nbval bench clean

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

setup: $(VENV)/.installed

book: setup
	$(PY) -m deap_lib book --profile $(PROFILE) $(if $(DEAP_DIR),--deap-dir $(DEAP_DIR))

prepare: setup
	$(PY) -m deap_lib prepare $(if $(DEAP_DIR),--deap-dir $(DEAP_DIR))

# Unit tests, then every chapter under nbval (smoke profile), then the book build with -W.
test: unit nbval
	$(PY) -m deap_lib book --profile smoke

unit: setup
	$(PY) -m pytest -q tests

nbval: setup
	DEAP_LIB_PROFILE=smoke $(PY) -m pytest -q --nbval-lax -p no:cacheprovider notebooks/*.ipynb

bench: setup
	$(PY) benchmarks/bench_reduce.py
	$(PY) benchmarks/bench_training.py

clean:
	rm -rf _build .pytest_cache book/chapters
