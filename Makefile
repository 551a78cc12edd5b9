# The two commands: `make run` serves the course; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres

.PHONY: install run test test-pg lint schema clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_curriculum
	$(BIN)/python manage.py create_demo_users
	@echo ""
	@echo "Serving the course on http://127.0.0.1:8000  (admin: http://127.0.0.1:8000/admin/)"
	$(BIN)/python manage.py runserver 127.0.0.1:8000

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py check_curriculum

test: lint
	$(BIN)/pytest

# The suite again on PostgreSQL (row locks, real concurrency); .ci/run calls it.
test-pg: install
	DATABASE_URL=$(PG_URL) $(BIN)/pytest -m "not browser"

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
