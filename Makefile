# `make run` serves the bundled sample on http://127.0.0.1:8000; `make test` runs the tests.
# Configuration comes from config/feeds.toml and FEEDS_* environment variables.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run server-command test test-all export check bench clean

# The production server (README, "Serving"): granian, 2 worker processes of 2 Python threads
# (for 2 cores). A connection costs no thread until its request is complete, so slow and idle
# clients cannot stall it: up to 1024 connections per worker; request line and headers within
# 10 s and 16 KiB; an idle connection is closed after 10 s.
HOST = 127.0.0.1
PORT = 8000
SERVER = $(BIN)/granian --interface wsgi --host $(HOST) --port $(PORT) --workers 2 --blocking-threads 2 \
	--http 1 --no-ws --backlog 2048 --backpressure 1024 --http1-header-read-timeout 10000 \
	--http1-buffer-size 16384 --workers-kill-timeout 10 --respawn-failed-workers --access-log wsgi:app

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(SERVER)

server-command:  # the command `make run` runs (tests and bench/production_server.py start it as it is)
	@echo '$(SERVER)'

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
