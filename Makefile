# The two set-up commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
TORCH ?= torch==2.13.0
EXTRAS ?= ml,collect,dashboard,report,dev

CHROMIUM := /usr/bin/chromium

.PHONY: demo test lint format bench clean browser

# torch first (a CPU wheel where one is provided locally, CUDA from PyPI elsewhere),
# then the project with its extras, so no extra pulls an unpinned torch.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

# the tests also need the `scale` extra (Ray, for the Ray engine's tests); the demo does not
$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS),scale]"
	touch $(TEST_STAMP)

demo: $(STAMP)
	$(BIN)/hypewatch demo

# Debian's chromium for the dashboard's browser test and PDF reports (playwright drives it;
# it never downloads a browser) and poppler's pdftoppm, which renders report PDFs to PNG in
# the tests. Without apt-get or root those tests skip, saying why.
BROWSER_PACKAGES := chromium fonts-noto-cjk fonts-noto-color-emoji poppler-utils
browser:
	@{ test -x $(CHROMIUM) && command -v pdftoppm >/dev/null; } \
		|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; } \
		|| echo "chromium or pdftoppm not installed: the browser and PDF tests will skip"

test: $(TEST_STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/classify.py
	$(BIN)/python bench/topics.py
	$(BIN)/python bench/language.py

clean:
	rm -rf $(VENV) build data .pytest_cache .ruff_cache
