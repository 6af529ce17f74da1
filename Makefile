# visionlab: `make run` (default study -> paper/) and `make test` (nbdev_test + pytest).
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STUDY ?= quickstart
WORKERS ?= 2
export NO_ALBUMENTATIONS_UPDATE := 1
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: env lock run paper test test-slow export check clean-runs

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
	$(BIN)/python -c "from visionlab.config import lock_drift, read_lock; d = lock_drift(read_lock('requirements.lock')); assert not d, f'installed versions differ from requirements.lock: {d}'"
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq dataset-fashion-mnist; fi
	touch $(BIN)/vlab

env: $(BIN)/vlab

# Re-resolve requirements.lock from settings.ini (newest versions that satisfy it) and regenerate environment.yml from it.
lock:
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q pip==$(PIP_VERSION) pip-tools==$(PIP_TOOLS_VERSION) $(QUIET)
	$(BIN)/pip-compile --quiet --upgrade --no-emit-index-url --no-emit-find-links --strip-extras --allow-unsafe --output-file requirements.lock setup.py $(QUIET)
	$(MAKE) env
	$(BIN)/python -c "from visionlab.config import environment_yml, read_lock; open('environment.yml', 'w').write(environment_yml(read_lock('requirements.lock')))"
	@echo "requirements.lock and environment.yml refreshed: run make env, make test, then commit both"

# Run the study grid (skips complete runs), then regenerate paper/.
run: env
	$(BIN)/vlab run params/$(STUDY).yaml --workers $(WORKERS)
	$(BIN)/vlab paper runs/$(STUDY) --out $(if $(filter quickstart,$(STUDY)),paper,paper/$(STUDY))

paper: env
	$(BIN)/vlab paper runs/$(STUDY) --out $(if $(filter quickstart,$(STUDY)),paper,paper/$(STUDY))

# lib/ must equal what the notebooks export, and notebooks must be clean.
check: env
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean
	@git diff --exit-code --stat -- lib nbs || { echo "nbdev_export/nbdev_clean changed files: commit the result"; exit 1; }

test: env
	$(BIN)/nbdev_test --n_workers 2
	$(BIN)/pytest -q tests

test-slow: env
	$(BIN)/nbdev_test --n_workers 2 --flags slow
	$(BIN)/pytest -q tests --runslow

clean-runs:
	rm -rf runs/*/
