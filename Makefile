# The two commands a newcomer needs:   make demo   and   make test
# Each creates (or refreshes, when pyproject.toml changed) the virtual environment .venv with python3.12.

PYTHON ?= python3.12
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-eofusion
DEMO_OUT ?= demo-output
# CPU training (the demo's, the tests') runs 2-3.5x faster with jemalloc than with glibc's malloc, which hands
# the large tensors of every step fresh zero-filled pages (README, "Training on the CPU"): preload Debian's
# libjemalloc2 when it is installed, keeping freed pages for reuse. Without it, nothing changes.
# "(libc6," with a comma: the 64-bit library, not a 32-bit one of a multiarch system.
JEMALLOC := $(shell PATH="$$PATH:/sbin:/usr/sbin" ldconfig -p 2>/dev/null | awk '/libjemalloc\.so\.2 .libc6,/{print $$NF; exit}')
comma := ,
ALLOCATOR := $(if $(JEMALLOC),LD_PRELOAD="$(JEMALLOC)$${LD_PRELOAD:+:$$LD_PRELOAD}" MALLOC_CONF=dirty_decay_ms:-1$(comma)muzzy_decay_ms:-1)

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
	$(ALLOCATOR) $(BIN)/eofusion demo --out $(DEMO_OUT)

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
	HF_HUB_OFFLINE=1 $(ALLOCATOR) $(BIN)/python -m pytest

clean-demo:
	rm -rf $(DEMO_OUT)
