# visionlab: `make run` (default study -> paper/quickstart/), `make test` (nbdev_test + pytest), `make test-slow` (the thorough suite),
# `make lab` (JupyterLab on nbs/), `make docs` (the documentation site in site/), `make readme` (README.md from nbs/index.ipynb).
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STUDY ?= quickstart
WORKERS ?= 2
export NO_ALBUMENTATIONS_UPDATE := 1
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: env lock run paper test test-slow durations export check clean-runs readme docs docs-serve lab

# The environment: a venv with the exact versions of requirements.lock, the package (editable, no dependency resolution),
# and Debian's Fashion-MNIST where apt exists.
PIP_VERSION := 26.3
QUIET := 2> >(grep -v '^WARNING: Location' >&2)   # hide pip's notes about absent local mirror folders, keep its exit code
PIP_TOOLS_VERSION := 7.6.2
$(BIN)/vlab: requirements.lock settings.ini setup.py
	@command -v $(PY) >/dev/null || { echo "need $(PY) (or: make PY=python3 ...)"; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q pip==$(PIP_VERSION) $(QUIET)
	$(BIN)/pip install -q -r requirements.lock $(QUIET)
	$(BIN)/pip install -q --no-deps -e . $(QUIET)
	$(BIN)/python -c "from visionlab.store import lock_drift, read_lock; d = lock_drift(read_lock('requirements.lock')); assert not d, f'installed versions differ from requirements.lock: {d}'"
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq dataset-fashion-mnist; fi
	touch $(BIN)/vlab

# The environment as a Jupyter kernel, inside the venv (`jupyter kernelspec list` from .venv shows it): `make lab` and
# nbclient find it by name, and it always starts this venv's Python.
KERNEL := $(VENV)/share/jupyter/kernels/visionlab/kernel.json
$(KERNEL): $(BIN)/vlab
	$(BIN)/python -m ipykernel install --sys-prefix --name visionlab --display-name "visionlab (.venv)" >/dev/null
	@echo "Jupyter kernel 'visionlab (.venv)' registered in $(VENV)/share/jupyter/kernels/visionlab"

env: $(BIN)/vlab $(KERNEL)

# Re-resolve requirements.lock from settings.ini (newest versions that satisfy it) and regenerate environment.yml from it.
lock:
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q pip==$(PIP_VERSION) pip-tools==$(PIP_TOOLS_VERSION) $(QUIET)
	$(BIN)/pip-compile --quiet --upgrade --no-emit-index-url --no-emit-find-links --strip-extras --allow-unsafe --output-file requirements.lock setup.py $(QUIET)
	$(MAKE) env
	$(BIN)/python -c "from visionlab.store import environment_yml, read_lock; open('environment.yml', 'w').write(environment_yml(read_lock('requirements.lock')))"
	@echo "requirements.lock and environment.yml refreshed: run make env, make test, then commit both"

# Run the study grid (skips complete runs), then regenerate paper/<study>/ and the index paper/README.md.
run: env
	$(BIN)/vlab run params/$(STUDY).yaml --workers $(WORKERS)
	$(BIN)/vlab paper runs/$(STUDY) --out paper/$(STUDY)
	$(BIN)/python -c "from visionlab.report import write_paper_index; write_paper_index('paper')"

paper: env
	$(BIN)/vlab paper runs/$(STUDY) --out paper/$(STUDY)
	$(BIN)/python -c "from visionlab.report import write_paper_index; write_paper_index('paper')"

# lib/ must equal what the notebooks export, notebooks must be clean, and README.md must be what nbs/index.ipynb makes
# from the committed paper/ tables.
check: env
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean
	$(BIN)/python docs/make_docs.py readme
	@git diff --exit-code --stat -- lib nbs README.md || { echo "nbdev_export/nbdev_clean/make readme changed files: commit the result"; exit 1; }

# README.md from nbs/index.ipynb (executed: its results table reads paper/*/tables/*.csv), as nbdev's readme_nb would.
readme: env
	$(BIN)/python docs/make_docs.py readme

# The documentation site, offline, into site/: README.md, docs/*.md, every library notebook executed (cached in
# build/docs-cache/), the task notebooks, an API page per module, a gallery of paper/ (docs/make_docs.py, mkdocs.yml).
docs: env
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NO_MKDOCS_2_WARNING=1 $(BIN)/python docs/make_docs.py site --workers $(WORKERS)

DOCS_PORT ?= 8000
docs-serve:
	@test -f site/index.html || { echo "no site/ yet: run make docs first"; exit 1; }
	@echo "serving site/ at http://127.0.0.1:$(DOCS_PORT)/ (Ctrl-C stops)"
	$(BIN)/python -m http.server --bind 127.0.0.1 --directory site $(DOCS_PORT)

# JupyterLab on nbs/ with this environment's kernel (new notebooks get it; the notebooks' own "python3" is this venv's
# Python too). LAB_ARGS passes options on, e.g. make lab LAB_ARGS="--no-browser --port 8889".
LAB_ARGS ?=
lab: env
	$(BIN)/jupyter lab --ServerApp.root_dir=nbs --MappingKernelManager.default_kernel_name=visionlab $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) $(LAB_ARGS)

# `make test`: the tests of every library notebook (nbdev_test) and the pytest contract tests, two at a time each and both
# at once, the longest notebooks and test files first (run one after the other, the tail of each left a core idle: 684 s
# against 1,158 s of CPU on 2 cores). A check that needs a system tool this machine lacks (SLURM, Chromium, LaTeX) skips
# with its reason, and the run ends by listing every skip. `make test-slow`: the thorough suite, i.e. the notebook cells
# that really train (`#| slow`) and the tests marked slow, slurm, browser or latex. `make durations`: the slowest notebooks
# and tests of the last run of either. Both run with one OpenMP/MKL thread per process: two notebooks (or test files) at
# a time on 2 cores, each with torch's default two threads, ran up to 8x slower (runs set their own `threads` either way).
RECORD = export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 VLAB_SKIPS=$(CURDIR)/.test-skips VLAB_DURATIONS=$(CURDIR)/.test-durations; rm -f $$VLAB_SKIPS $$VLAB_DURATIONS; set -o pipefail; rc=0
NBTIME = awk '/^[^ ]+\.ipynb: [0-9]+ secs$$/ {sub(":", "", $$1); print $$2 "\tnotebook\t" $$1 >> ENVIRON["VLAB_DURATIONS"]; next} {print}'
SUMMARY = $(BIN)/python -c "import os; from visionlab.config import skip_summary; print(skip_summary(os.environ['VLAB_SKIPS']))"; \
          echo "(slowest notebooks and tests: make durations)"; exit $$rc
# The notebooks whose tests take longest (30-50 s of one core each), run first so that the last ones are short.
LONG_NBS = 00c_warm|08_ensemble|10_figures|10a_refit|14_anomaly|14a_evidence|16_segment|17_review|18_deploy
SLOW_NBS = $(shell grep -l '"\#| slow' nbs/*.ipynb | xargs -n1 basename | paste -sd'|')

test: env
	@$(RECORD); nblog=$$(mktemp); \
	( { $(BIN)/nbdev_test --n_workers 2 --timing --file_re '^($(LONG_NBS))\.ipynb$$'; a=$$?; \
	    $(BIN)/nbdev_test --n_workers 2 --timing --skip_file_re '^([_.]|($(LONG_NBS))\.ipynb$$)'; b=$$?; exit $$((a | b)); } 2>&1 | $(NBTIME) > $$nblog ) & nb=$$!; \
	$(BIN)/pytest -q -n 2 --dist loadfile --no-loadscope-reorder tests || rc=1; \
	wait $$nb || rc=1; echo "nbdev_test (every library notebook):"; cat $$nblog; rm -f $$nblog; \
	$(SUMMARY)

test-slow: env
	@$(RECORD); \
	$(BIN)/nbdev_test --n_workers 2 --timing --flags slow --file_re '^($(SLOW_NBS))$$' | $(NBTIME) || rc=1; \
	$(BIN)/pytest -q -n 2 --dist loadfile tests --runslow -m 'slow or slurm or browser or latex' || rc=1; \
	$(SUMMARY)

durations:
	@test -f .test-durations || { echo "no .test-durations yet: run make test (or make test-slow) first"; exit 1; }
	@sort -t$$'\t' -k1,1 -rn .test-durations | head -n $${N:-25}

clean-runs:
	rm -rf runs/*/
