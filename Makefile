.PHONY: run test lint bench stop-services clean-data

# Extra arguments: make run ARGS="--port 9000", make test ARGS="-x -k rides"
ARGS ?=

run:
	./scripts/run $(ARGS)

test:
	./scripts/test $(ARGS)

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy

bench:
	.venv/bin/python -m bench

stop-services:
	./scripts/services stop

clean-data:
	./scripts/services clean
