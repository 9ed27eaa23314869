# The two commands of the README. Both set everything up first (idempotent, one line a step).
#   make batches          run every batch file in batches/ against a ComfyUI this project starts
#   make test             run the whole test suite (batches/ and tests/); it also needs system
#                         packages (chromium): installed when root, else the sudo line is printed
#   make clean            remove the generated images under images/
# For contributors; these set up the project venv (.venv) only: no ComfyUI, no browser.
#   make unit             the tests that need no server, no browser and no proxy (tests/unit/)
#   make lint             ruff check and mypy on comfy_plugin/
# Extra pytest arguments: make batches ARGS="-k hat -v", make unit ARGS=-x
# Other batch files than batches/: make batches BATCHES=path/to/folder-or-file.json
# Setup variables (scripts/setup.sh): PYTHON (default python3.11), TORCH_INDEX_URL.

VENV := .venv
PYTEST := $(VENV)/bin/pytest
BATCHES := batches/

.PHONY: setup venv system-packages batches test unit lint clean

setup:
	@bash scripts/setup.sh

venv:
	@bash scripts/setup.sh --venv-only

system-packages:
	@bash scripts/system-packages.sh

batches: setup
	$(PYTEST) $(BATCHES) $(ARGS)

test: setup system-packages
	$(PYTEST) $(ARGS)

unit: venv
	$(PYTEST) tests/unit $(ARGS)

# Both run, so one look shows every finding; the target fails if either found something.
lint: venv
	@status=0; \
	echo "$(VENV)/bin/ruff check comfy_plugin"; $(VENV)/bin/ruff check comfy_plugin || status=1; \
	echo "$(VENV)/bin/mypy comfy_plugin"; $(VENV)/bin/mypy comfy_plugin || status=1; \
	exit $$status

clean:
	find images -mindepth 1 -maxdepth 1 ! -name .gitignore -exec rm -rf {} +
