# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CIAM := $(BIN)/ciam
PYTEST_ARGS ?=

.PHONY: install demo serve test lint format db-upgrade bench clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,granian]'
	scripts/argon2-for-this-cpu $(BIN)
	touch $@

db-upgrade: install
	$(CIAM) db upgrade heads

demo: install
	$(CIAM) db upgrade heads
	$(CIAM) demo
	$(CIAM) serve --workers 2

serve: install
	$(CIAM) serve

# Coverage of ciam/ is measured on every run. Its floor (fail_under, setup.cfg) is for
# the whole suite: a run narrowed with PYTEST_ARGS reports coverage without the gate.
COV_ARGS := --cov=ciam --cov-report=term:skip-covered $(if $(PYTEST_ARGS),--cov-fail-under=0)

test: install
	$(BIN)/pytest $(COV_ARGS) $(PYTEST_ARGS)

# The same three checks run in .pre-commit-config.yaml.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .coverage
