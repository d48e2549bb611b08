# The two commands of the README: `make run` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: run test lint clean bench

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
		{ echo "Python 3.11 or newer is needed as '$(PYTHON)' (Debian: apt-get install python3 python3-venv)."; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
		{ echo "Could not create $(VENV) (Debian: apt-get install python3-venv)."; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# Debug mode for this machine's development server only: production is the default.
run: export DJANGO_DEBUG ?= true
run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py runclinic

test: $(STAMP)
	$(BIN)/lint-imports --no-logo
	@bash .ci/ensure-services
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

# Times the slot finder and the day board on a generated clinic of 100,000+ appointments, and
# the staff pages, the API list and the survey page on one with 1,000,000+ survey answers too,
# in a scratch PostgreSQL database (created if missing); the generated data is rolled back.
BENCH_DATABASE_URL := postgres://postgres:postgres@127.0.0.1:5432/clinic_bench
bench: export DJANGO_DEBUG ?= true
bench: $(STAMP)
	@bash .ci/ensure-services
	@$(BIN)/python -c "import psycopg; c = psycopg.connect('postgresql://postgres:postgres@127.0.0.1:5432/postgres', autocommit=True); c.execute(\"SELECT 1 FROM pg_database WHERE datname = 'clinic_bench'\").fetchone() or c.execute('CREATE DATABASE clinic_bench')"
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python manage.py migrate --noinput
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python manage.py bench
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python manage.py bench_pages
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python manage.py bench_fhir
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python manage.py bench_dispatch

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo

clean:
	rm -rf var staticfiles
