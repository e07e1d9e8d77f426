# Two commands for a fresh machine: `make book` (set up + build the whole book) and `make test`.
# Each creates the virtual environment from requirements.txt when it is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

PROFILE ?= quick
DEAP_DIR ?=
SCHEDULER ?=
MAHNOB_DIR ?=

.PHONY: setup book pdf prepare test unit fast nbval bench clean

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

setup: $(VENV)/.installed

book: setup
	$(PY) -m deap_lib book --profile $(PROFILE) $(if $(DEAP_DIR),--deap-dir $(DEAP_DIR)) $(if $(MAHNOB_DIR),--mahnob-dir $(MAHNOB_DIR)) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

# The book as a PDF through LaTeX (Debian packages below), executing the chapters first when they are
# missing (as `make book` does, without its HTML build): _build/latex/book.pdf.
LATEX_DEBS := latexmk texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended tex-gyre
pdf: setup
	@command -v latexmk >/dev/null 2>&1 || { echo "make pdf: LaTeX is missing; install it with: sudo apt-get update && sudo apt-get install -y --no-install-recommends $(LATEX_DEBS)" >&2; exit 1; }
	test -f book/chapters/06_mahnob.ipynb || $(PY) -m deap_lib book --profile $(PROFILE) --no-build $(if $(DEAP_DIR),--deap-dir $(DEAP_DIR))
	$(VENV)/bin/jupyter-book build book --builder pdflatex -W -n --keep-going
	@echo "PDF: $(CURDIR)/_build/latex/book.pdf"

prepare: setup
	$(PY) -m deap_lib prepare $(if $(DEAP_DIR),--deap-dir $(DEAP_DIR))

# Unit tests, then every chapter under nbval (smoke profile), then the book build with -W in its own
# folder (_build/smoke): the user's book/chapters and _build/html are never touched.
test: unit nbval
	$(PY) -m deap_lib book --profile smoke --out _build/smoke

unit: setup
	$(PY) -m pytest -q tests

# The unit tests without those marked slow (local Dask clusters, the large fuzzers, full-size training).
fast: setup
	$(PY) -m pytest -q -m "not slow" tests

nbval: setup
	DEAP_LIB_PROFILE=smoke $(PY) -m pytest -q --nbval-lax -p no:cacheprovider notebooks/*.ipynb

bench: setup
	$(PY) benchmarks/bench_reduce.py
	$(PY) benchmarks/bench_training.py

clean:
	rm -rf _build .pytest_cache book/chapters
