# The two commands of the README. Both set everything up first (idempotent).
#   make batches          run every batch file in batches/ against a ComfyUI this project starts
#   make test             run the whole test suite (batches/ and tests/)
# Extra pytest arguments: make batches ARGS="-k hat -v"

PYTEST := .venv/bin/pytest

.PHONY: setup batches test

setup:
	bash scripts/setup.sh

batches: setup
	$(PYTEST) batches/ $(ARGS)

test: setup
	$(PYTEST) $(ARGS)
