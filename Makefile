# The two commands a newcomer needs: `make demo` and `make test`. Both bootstrap the machine.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bootstrap lint typecheck unit bench

bootstrap:
	@scripts/bootstrap.sh

demo: bootstrap
	$(BIN)/jarvis-cloud demo

test: bootstrap lint typecheck
	$(BIN)/pytest -q

lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: bootstrap
	$(BIN)/mypy

bench: bootstrap
	$(BIN)/python -m bench.rls_overhead
