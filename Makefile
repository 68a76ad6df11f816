# Linli: `make run` serves the demo, `make test` runs every test. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export FLASK_APP := wsgi.py
PYTEST_ARGS ?=

.PHONY: run test deps test-deps system-deps db seed openapi lint bench-cases bench-kiosk bench-voice bench-attack bench-nlu clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.deps: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.test-deps: requirements-dev.txt $(VENV)/.deps
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

deps: $(VENV)/.deps
test-deps: $(VENV)/.test-deps

system-deps:
	@./scripts/system-deps.sh

db: deps
	$(BIN)/flask db upgrade

seed: db
	$(BIN)/flask seed-demo

run: system-deps seed
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

test: system-deps test-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

openapi: deps
	$(BIN)/flask openapi write --format=json docs/openapi.json

lint: test-deps
	$(BIN)/ruff check app voice kiosk tests bench
	$(BIN)/ruff format --check app voice kiosk tests bench

bench-cases: test-deps
	$(BIN)/python bench/cases.py

bench-kiosk: test-deps
	$(BIN)/python bench/kiosk_fanout.py

bench-voice: test-deps
	$(BIN)/python bench/voice.py

bench-attack: test-deps
	$(BIN)/python bench/attack.py

bench-nlu: deps
	$(BIN)/python bench/category_accuracy.py

clean:
	rm -rf $(VENV) .pytest_cache
