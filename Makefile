# signlab: `make book` builds the website, `make test` runs every test (both install what they need).
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup book rebuild colab student test test-fast lint bench browser grader clean

$(STAMP): requirements.txt pyproject.toml signbook/pyproject.toml package.json package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e ".[test]" -e "./signbook[edition]"
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(STAMP)

## The website, into _build/html. Warnings (and failing cells) are errors.
book: setup
	$(BIN)/jupyter-book build . -W --keep-going

## Rebuild everything and re-execute every notebook (ignores the execution cache).
rebuild: setup
	rm -rf _build
	$(BIN)/jupyter-book build . -W --keep-going --all

## The Colab edition into _build/colab/book/*.ipynb (REF: the commit its install cells install from;
## default: this checkout's commit). The publishing workflow pushes it to the `colab` branch.
REF ?=
EDITION_REF = $(if $(REF),--ref $(REF),)
colab: setup
	$(BIN)/python -m signbook.edition colab --out _build/colab $(EDITION_REF)

## The student release: Colab-ready notebooks with every solution removed (_build/student/notebooks),
## and the student website built from the same source (_build/student/source/_build/html), with the
## outputs of the book's own build (`make book`, cached), so no chapter is executed twice.
student: book
	rm -rf _build/student
	$(BIN)/python -m signbook.edition student --out _build/student/notebooks $(EDITION_REF)
	$(BIN)/python -m signbook.edition student-site --out _build/student/source $(EDITION_REF) \
	  --executed _build/jupyter_execute
	$(BIN)/jupyter-book build _build/student/source -W --keep-going
	@echo "student notebooks: _build/student/notebooks/book/  website: _build/student/source/_build/html/"

## Headless Chromium for tests/test_browser.py: Debian's chromium and the DejaVu fonts the page widths
## are measured with (needs root; skipped when present). Playwright, which drives it, comes from PyPI
## with the test extra; it never downloads a browser.
browser:
	@command -v chromium >/dev/null 2>&1 && [ -e /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || \
	  { [ "$$(id -u)" = 0 ] && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq chromium fonts-dejavu-core >/dev/null) \
	  || echo "chromium not installed: the browser test will be skipped (it fails under CI=true)"; }

## bubblewrap, the grader's sandbox (signbook.sandbox): Debian's package, installed as root or with
## passwordless sudo (skipped when present). It needs unprivileged user namespaces; Ubuntu 23.10 and
## later restrict them with AppArmor, which this target lifts only under CI (the runner is
## disposable) and otherwise names. Without it the sandbox tests are skipped (they fail under CI=true).
SUDO = $(if $(filter 0,$(shell id -u)),,sudo -n)
USERNS = /proc/sys/kernel/apparmor_restrict_unprivileged_userns
grader:
	@command -v bwrap >/dev/null 2>&1 || \
	  { ($(SUDO) true 2>/dev/null && $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    $(SUDO) apt-get install -y -qq bubblewrap >/dev/null) \
	  || echo "bubblewrap not installed: the grader's sandbox tests will be skipped (they fail under CI=true)"; }
	@! command -v bwrap >/dev/null 2>&1 || bwrap --unshare-user --ro-bind / / true 2>/dev/null || \
	  { if [ -n "$$CI" ] && [ "$$(cat $(USERNS) 2>/dev/null)" = 1 ]; then \
	      echo "CI: lifting AppArmor's restriction on user namespaces for bwrap"; \
	      $(SUDO) sysctl -q -w kernel.apparmor_restrict_unprivileged_userns=0; \
	    else echo "bwrap cannot create a user namespace here: see the grading part of book/instructors.md"; fi; }

## Every test: the fast ones, then the slow ones (book build in a real browser, training, DDP, grader).
test: setup browser grader
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python tools/notebooks.py check
	$(BIN)/python -m pytest -m "not slow"
	$(BIN)/python -m pytest -m slow --durations=25

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && \
	  $(BIN)/python tools/notebooks.py check

bench: setup
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf _build .pytest_cache .ruff_cache .mypy_cache .hypothesis .benchmarks
