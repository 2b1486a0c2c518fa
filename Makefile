# `make run` serves the bundled sample on http://127.0.0.1:8000; `make test` runs the tests.
# Configuration comes from config/feeds.toml and FEEDS_* environment variables.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-all export check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gunicorn --bind 127.0.0.1:8000 --workers 2 --threads 4 --access-logfile - wsgi:app

test: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

test-all: $(STAMP)
	$(BIN)/pytest -q -m ''

export: $(STAMP)
	$(BIN)/feeds export public

check: $(STAMP)
	$(BIN)/feeds check

clean:
	rm -rf $(VENV) public .pytest_cache
