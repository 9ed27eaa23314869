# The two commands of the README. Both set everything up first (idempotent, one line a step).
#   make batches          run every batch file in batches/ against a ComfyUI this project starts
#   make test             run the whole test suite (batches/ and tests/); it also needs system
#                         packages (chromium): installed when root, else the sudo line is printed
#   make clean            remove the generated images under images/
# Extra pytest arguments: make batches ARGS="-k hat -v"
# Setup variables (scripts/setup.sh): PYTHON (default python3.11), TORCH_INDEX_URL.

PYTEST := .venv/bin/pytest

.PHONY: setup system-packages batches test clean

setup:
	@bash scripts/setup.sh

system-packages:
	@bash scripts/system-packages.sh

batches: setup
	$(PYTEST) batches/ $(ARGS)

test: setup system-packages
	$(PYTEST) $(ARGS)

clean:
	find images -mindepth 1 -maxdepth 1 ! -name .gitignore -exec rm -rf {} +
