# One entry point for everything. `make lab` and `make test` create .venv when it is missing
# (and reinstall only when a pin file changed), so both work on a fresh clone.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.cadl-installed
PORT ?= 8888
# Jupyter refuses to run as root (containers, CI) unless told it may.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
# Tests and CI run offline on the untrained stand-in at the quick profile.
TEST_ENV := CADL_WEIGHTS=untrained CADL_PROFILE=quick

.PHONY: setup lab test unit nbval e2e course demo bench lesson-times stats clean help

help:
	@echo "make lab    - set up .venv and start JupyterLab on notebooks/"
	@echo "make test   - set up .venv and run the whole test suite (unit, notebooks, browser)"
	@echo "make course - render the course's eleven pictures and a gallery, outputs/course/index.html"
	@echo "make demo   - the same as make course (its old name)"
	@echo "make bench  - run the benchmarks in benchmarks/"
	@echo "make lesson-times - time each lesson top to bottom at the full profile (target: 2 minutes each)"
	@echo "make stats  - the package's size and shape against its targets"
	@echo "make clean  - remove .venv, outputs/ and caches"

$(STAMP): requirements.txt requirements-dev.txt requirements-mp4.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -e '.[mp4]'
	$(PY) -m ipykernel install --sys-prefix --name cadl --display-name "Python (cadl)" >/dev/null
	@touch $(STAMP)

setup: $(STAMP)

lab: setup
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) $(ROOT_FLAG)

test: setup
	$(TEST_ENV) $(PY) -m pytest tests
	$(MAKE) --no-print-directory nbval
	$(MAKE) --no-print-directory e2e

unit: setup
	$(TEST_ENV) $(PY) -m pytest tests

nbval: setup
	@if ls notebooks/*.ipynb >/dev/null 2>&1; then \
	  $(TEST_ENV) $(PY) -m pytest -p no:cacheprovider --nbval-lax --nbval-current-env \
	    --nbval-sanitize-with notebooks/sanitize.cfg notebooks; \
	else echo "no notebooks yet"; fi

e2e: setup
	@if [ -f tests/e2e/run.sh ]; then bash tests/e2e/run.sh; else echo "no browser test yet"; fi

course: setup
	$(PY) -m cadl_utils course --out outputs/course

demo: course

bench: setup
	$(PY) -m benchmarks

lesson-times: setup
	$(PY) -m benchmarks.lesson_times

stats:
	$(PYTHON) tests/package_shape.py

clean:
	rm -rf $(VENV) outputs .pytest_cache .hypothesis build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
