# The two commands a newcomer needs:   make demo   and   make test
# Each creates (or refreshes, when pyproject.toml changed) the virtual environment .venv with python3.12.

PYTHON ?= python3.12
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-eofusion
DEMO_OUT ?= demo-output

.PHONY: install demo test lint typecheck imports unit clean-demo

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.12 (see README)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,server,peers,cloud]'
	touch $(STAMP)

install: $(STAMP)

## Run the main job end to end on the embedded demo world (no network, no account).
demo: $(STAMP)
	$(BIN)/eofusion demo --out $(DEMO_OUT)

## Lint, type-check, layering contract, then the whole test suite (integration tests start their own servers).
test: $(STAMP) lint typecheck imports unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

clean-demo:
	rm -rf $(DEMO_OUT)
