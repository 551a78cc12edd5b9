# The two commands: `make run` serves the course; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres

.PHONY: install run test test-pg lint security audit dependency-audit schema schema-check clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable
	$(BIN)/python manage.py load_curriculum
	$(BIN)/python manage.py ensure_activities
	$(BIN)/python manage.py create_demo_users
	@echo ""
	@echo "Serving the course on http://127.0.0.1:8000  (admin: /admin/, API docs: /api/docs/)"
	@echo "The background worker (deliver_outbox: outbox deliveries and staff export jobs) runs beside the server; Ctrl-C stops both."
	@trap 'kill 0' INT TERM EXIT; \
	$(BIN)/python manage.py deliver_outbox --interval 5 -v 0 & \
	$(BIN)/python manage.py runserver 127.0.0.1:8000

# bandit over the app code ([tool.bandit] in pyproject.toml says what is skipped and why).
security: install
	$(BIN)/bandit -q -r accounts curriculum quizzes credits lms config tools -c pyproject.toml

# Every pinned dependency against PyPI's vulnerability data (pypi.org/pypi/<name>/<version>/json).
# --strict: a dependency it could not look up fails the audit. Without it, pip-audit prints "No known
# vulnerabilities found" and exits 0 having checked nothing. On the machines this project is built on
# (and CI runs on) those pages answer 404, so .ci/run runs `make dependency-audit` instead (below).
audit: install
	$(BIN)/pip-audit --strict --no-deps --disable-pip --progress-spinner off -r requirements.txt -r requirements-dev.txt

# Known vulnerabilities from PyPI's own data (tools/dependency_audit.py says how, and why not only
# pip-audit): first the runtime environment, requirements.txt alone in a venv of its own as production
# installs it, with no advisory accepted; then everything in .venv, with the advisories accepted in
# tools/accepted-advisories.toml. .ci/run calls it. Needs pypi.org.
RUNTIME := $(VENV)-runtime
RUNTIME_STAMP := $(RUNTIME)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)

$(RUNTIME_STAMP): requirements.txt
	rm -rf $(RUNTIME)
	$(PYTHON) -m venv $(RUNTIME)
	$(RUNTIME)/bin/python -m pip install --quiet --upgrade pip setuptools
	$(RUNTIME)/bin/python -m pip install --quiet -r requirements.txt
	@touch $(RUNTIME_STAMP)

dependency-audit: install $(RUNTIME_STAMP)
	@echo "== runtime: requirements.txt as production installs it =="
	$(BIN)/python -m tools.dependency_audit -q --path "$$($(RUNTIME)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
	@echo "== development and test environment (.venv) =="
	$(BIN)/python -m tools.dependency_audit -q --accept tools/accepted-advisories.toml

lint: install security
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py check_curriculum
	$(MAKE) schema-check

# The committed API contract (docs/openapi.yaml): regenerate after an API change...
schema: install
	$(BIN)/python manage.py spectacular --file docs/openapi.yaml --validate --fail-on-warn

# ...and fail if the committed file is stale or invalid (lint runs this).
schema-check: install
	@$(BIN)/python manage.py spectacular --file $(VENV)/openapi.check.yaml --validate --fail-on-warn
	@diff -u docs/openapi.yaml $(VENV)/openapi.check.yaml || (echo "docs/openapi.yaml is stale: run 'make schema'"; exit 1)

test: lint
	$(BIN)/pytest

# The suite again on PostgreSQL (row locks, real concurrency); .ci/run calls it.
test-pg: install
	DATABASE_URL=$(PG_URL) $(BIN)/pytest -m "not browser"

clean:
	rm -rf $(VENV) $(RUNTIME) db.sqlite3 staticfiles

# --- bench: seed PostgreSQL, serve with gunicorn, load from a second process (bench/run.py) ---
# `make bench BENCH_ARGS="--scale 10"` for 100,000 learners; results in bench/results/*.json.
BENCH_PG_URL ?= postgres://postgres@127.0.0.1:5432
.PHONY: bench bench-smoke

bench: install
	$(BIN)/python -m bench.run --pg-url $(BENCH_PG_URL) $(BENCH_ARGS)

# The same at tiny volume and a few seconds per endpoint (about 2 minutes), for CI.
bench-smoke: install
	$(BIN)/python -m bench.run --smoke --drop --pg-url $(BENCH_PG_URL) $(BENCH_ARGS)
