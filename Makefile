.PHONY: run test lint lock bench api-docs stop-services clean-data

# Extra arguments: make run ARGS="--port 9000", make test ARGS="-x -k rides"
ARGS ?=

run:
	./scripts/run $(ARGS)

test:
	./scripts/test $(ARGS)

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

# Refresh requirements.lock from pyproject.toml (run dependencies and the dev extra): every
# package pinned with its hashes. Commit it with the pyproject.toml change that asked for it.
lock:
	.venv/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --quiet --output-file requirements.lock

bench:
	.venv/bin/python -m bench

# docs/api.md from the OpenAPI document (a test fails while the committed file differs)
api-docs:
	.venv/bin/python -m bayaffairs.handlers.api_reference > docs/api.md

stop-services:
	./scripts/services stop

clean-data:
	./scripts/services clean
