# visionlab: `make run` (default study -> paper/) and `make test` (nbdev_test + pytest).
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STUDY ?= quickstart
WORKERS ?= 2
export NO_ALBUMENTATIONS_UPDATE := 1
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: env run paper test test-slow export check clean-runs

# The environment: a venv with the pip requirements of settings.ini, the package (editable), and Debian's Fashion-MNIST where apt exists.
$(BIN)/vlab: settings.ini setup.py
	@command -v $(PY) >/dev/null || { echo "need $(PY) (or: make PY=python3 ...)"; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq dataset-fashion-mnist; fi
	touch $(BIN)/vlab

env: $(BIN)/vlab

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
