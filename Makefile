# edsr-lite: `make lab` to learn, `make test` to check. Both create .venv when needed: `make lab`
# installs the course alone, `make test` (and every maintainer target) adds the developer tools.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
COURSE_STAMP := $(VENV)/.installed-course
LAB_ARGS ?=
RESULTS_ARGS ?=
# Jupyter refuses to start as root (containers, CI) unless told that it is on purpose.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test venv course-venv lint format bench clean results checkpoints

## venv: a local virtual environment with edsr-lite installed (editable) with its course, dev and fast extras
venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -e '.[course,dev,fast]'
	touch $(STAMP) $(COURSE_STAMP)

## course-venv: the same environment with the course alone (`pip install -e '.[course]'`: the
## notebooks' needs, no developer tools); a full install made by `make venv` already has it
course-venv: $(COURSE_STAMP)

$(COURSE_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	if [ ! $(STAMP) -nt pyproject.toml ]; then \
		$(BIN)/python -m pip install --upgrade --quiet pip && \
		$(BIN)/python -m pip install --quiet -e '.[course]'; \
	fi
	touch $(COURSE_STAMP)

## lab: open JupyterLab on the notebooks (headless, it prints the address to open). The server's
## root is the repository, so that the notebooks' links to README.md, data/RESULTS.md and the
## package's source open; it starts in notebooks/ (and serves build/student/ too).
lab: course-venv
	$(BIN)/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks \
		$(ROOT_FLAG) $(LAB_ARGS)

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

## checkpoints: train (or continue) every shipped run of configs/, in order: hours per model on a CPU
CHECKPOINT_RUNS ?= edsr_baseline_x2 edsr_baseline_x3 edsr_baseline_x4 edsr_baseline_x4_scratch \
	edsr_baseline_bn_x2 mdsr_baseline edsr_wide_rs1_x2 edsr_wide_rs0.1_x2
checkpoints: venv
	for run in $(CHECKPOINT_RUNS); do \
		OMP_WAIT_POLICY=PASSIVE $(BIN)/edsr-lite train --config configs/$$run.yaml --resume || exit 1; \
	done

## results: score the shipped checkpoints into data/RESULTS.json, data/RESULTS.md and the README
## (1-2 hours on 2 cores; RESULTS_ARGS=--check compares, RESULTS_ARGS=--render re-renders)
results: venv
	$(BIN)/python tools/make_results.py $(RESULTS_ARGS)

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

## student: the bundle to hand out to a class (notebooks/TEACHING.md): the notebooks with their
## exercise solutions taken out, the package and its data, a README on installing; no answers
STUDENT_DIR ?= build/student
.PHONY: student
student: course-venv
	$(BIN)/python tools/make_student.py --out $(STUDENT_DIR)

## grading: an nbgrader course folder, one exercises-only assignment per lesson
## (notebooks/TEACHING.md walks through grading with it; nbgrader comes with `make venv`)
GRADING_DIR ?= build/nbgrader
.PHONY: grading
grading: course-venv
	$(BIN)/python tools/make_nbgrader.py --out $(GRADING_DIR)

## site: the course as a static website that reads offline, in build/site/ (open index.html): runs
## every notebook (full mode; SITE_MODE=fast for the fast version), then exports them to HTML
SITE_MODE ?= full
.PHONY: site
site: venv
	$(BIN)/python tools/make_site.py --mode $(SITE_MODE) --out build/site
