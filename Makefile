# jmlink-analytics: every target sets up its own local .venv first, so a fresh clone needs
# only `make report` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DAYS ?= 30

.PHONY: help setup fonts test lint typecheck report bench cassettes cassettes-live lab clean

help:
	@echo "make report          write a full report of the built-in sandbox app to report/"
	@echo "make test            mypy, then the test suite with the doctests (sets up .venv and a CJK font first)"
	@echo "make lint            ruff"
	@echo "make typecheck       mypy (settings in pyproject.toml)"
	@echo "make bench           run the benchmarks (prints ratios)"
	@echo "make cassettes       re-record every cassette against the sandbox"
	@echo "make cassettes-live  record read-only cassettes against the real API (needs JMLINK_* variables)"
	@echo "make lab             install JupyterLab into .venv and open notebooks/"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is needed (found $$($(PYTHON) --version))" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

# Channel names are Chinese: the plots need a CJK font. Installs Debian's WenQuanYi Micro Hei
# when no CJK font is present (needs root or sudo; skipped with a note otherwise).
fonts:
	@bash scripts/ensure-cjk-font.sh

test: $(STAMP) fonts
	$(VENV)/bin/mypy
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check jmlink_analytics tests benchmarks scripts conftest.py

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# Like `make test`, ensures a CJK font first: channel names such as 微信 are drawn in the charts.
report: $(STAMP) fonts
	$(VENV)/bin/jmlink-analytics report --sandbox --days $(DAYS) --platform split --out report/

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

cassettes: $(STAMP)
	$(PY) -m scripts.record_cassettes --out cassettes

cassettes-live: $(STAMP)
	$(PY) -m scripts.record_cassettes --live --out cassettes/live

# JupyterLab refuses to start as root (common in containers) unless told to: --allow-root then.
LAB_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[notebook]"
	$(VENV)/bin/jupyter lab $(LAB_FLAGS) notebooks/

clean:
	rm -rf report .pytest_cache .ruff_cache
