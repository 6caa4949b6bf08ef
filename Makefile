# edsr-lite: `make lab` to learn, `make test` to check. Both create .venv when needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LAB_ARGS ?=
# Jupyter refuses to start as root (containers, CI) unless told that it is on purpose.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test venv lint format bench clean

## venv: a local virtual environment with edsr-lite installed (editable) and the dev tools
venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## lab: open JupyterLab on the notebooks (headless, it prints the address to open)
lab: venv
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(LAB_ARGS)

## test: the whole test suite (what CI runs)
test: venv
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: print the benchmark figures (timings are never asserted in tests)
bench: venv
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache

## notebooks: run every notebook into build/notebooks/ (ipynb + HTML); EDSR_LITE_FAST=1 for the fast version
.PHONY: notebooks
notebooks: venv
	mkdir -p build/notebooks
	for nb in notebooks/*.ipynb; do \
		echo "== $$nb"; \
		$(BIN)/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=1200 \
			--output-dir build/notebooks "$$nb" || exit 1; \
		$(BIN)/jupyter nbconvert --to html --output-dir build/notebooks \
			"build/notebooks/$$(basename "$$nb")" || exit 1; \
	done
