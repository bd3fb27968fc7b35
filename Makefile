# CoE — the two-command set-up (`make demo`, `make test`) and the developer chores.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint worker beat install venv serve migrate bench fuzz clean prod-smoke

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Installs the project with its dev extra; redone only when pyproject.toml changes.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv install: $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

## make demo: venv, install, migrate SQLite, load the demo organisation, serve on 127.0.0.1:$(PORT)
## with the plants' simulators (`simulate`) and the Sparkplug host (`mqtt_host`) beside the
## server; when the server ends (Ctrl-C), the shell's trap stops both with SIGTERM.
demo: export DEBUG ?= 1
demo: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	@$(PY) manage.py simulate & sim=$$!; \
	$(PY) manage.py mqtt_host & host=$$!; \
	trap 'kill -TERM $$sim $$host 2>/dev/null; wait $$sim $$host' EXIT INT TERM; \
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

serve: $(STAMP)
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

## make test: the whole suite (SQLite and eager Celery unless DATABASE_URL / CELERY_BROKER_URL are set)
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

## make lint: ruff, migrations in step with models, deploy checks against production settings
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
	DEBUG=0 SECRET_KEY=lint-only-secret-key-that-is-long-enough-to-pass-the-deploy-check-0123456789 \
	  CONNECTOR_CREDENTIALS_KEYS=bGludC1vbmx5LWtleS1ub3QtZm9yLXByb2R1Y3Rpb24= \
	  ALLOWED_HOSTS=coe.example.com $(PY) manage.py check --deploy --fail-level WARNING

## make worker: a Celery worker on CELERY_BROKER_URL (all queues)
worker: $(STAMP)
	$(VENV)/bin/celery -A coe worker -l info -Q celery,io,cpu

beat: $(STAMP)
	$(VENV)/bin/celery -A coe beat -l info

## make prod-smoke: the production process layout (gunicorn, io/cpu/celery workers, beat,
## mqtt_host) with DEBUG=0 on the local PostgreSQL and Redis, one flow end to end, then stopped
prod-smoke: $(STAMP)
	$(PY) deploy/prod_smoke.py

## make fuzz: schemathesis over the whole API as staff, business owner and member, at least
## FUZZ_REQUESTS requests (default 10000) on a fresh demo database (FUZZ_ARGS="--url http://…"
## for a running server); prints the counts, fails on any server error or schema mismatch
FUZZ_REQUESTS ?= 10000
fuzz: $(STAMP)
	$(PY) -m tests.fuzz --requests $(FUZZ_REQUESTS) $(FUZZ_ARGS)

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache
