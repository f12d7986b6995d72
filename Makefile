# The developer loop: `make up`, `make test`, `make check`, `make bench`. CI runs .ci/run (check + test).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stamp-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: up test check bench fmt clean system-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	# xds-protos ships an old copy of the OpenTelemetry protos over opentelemetry-proto's files
	# (which one wins depends on install order); put opentelemetry-proto's own back.
	$(BIN)/python -m pip install -q --no-deps --force-reinstall \
		"opentelemetry-proto==$$($(BIN)/python -c 'import importlib.metadata as m; print(m.version("opentelemetry-proto"))')"
	$(BIN)/python -c 'from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope'
	rm -f $(VENV)/.stamp-* && touch $@

## up: run Zerogate with embedded defaults (SQLite, example policies) and print where it listens.
up: $(STAMP)
	$(BIN)/zerogate up

## system-deps: Debian packages the test suite drives for real (PostgreSQL).
system-deps:
	bash scripts/system-deps.sh

## test: install what the suite needs, then run all of it.
test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider

## check: formatting, lint, types and architecture contracts.
check: $(STAMP)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

## bench: measured numbers, printed as tables and written to bench/results/*.json.
bench: $(STAMP)
	$(BIN)/python bench/pdp.py
	$(BIN)/python bench/tokens.py
	$(BIN)/python bench/gateway.py
	$(BIN)/python bench/audit.py

clean:
	rm -rf $(VENV) .zerogate .pytest_cache .mypy_cache .ruff_cache
