# Developer and CI entry points. GNU make; needs only Python 3.11+ on the machine.
#
#   make run     the whole app on http://localhost:8000/ (web + Celery worker + beat)
#   make test    ruff, the import contracts, then the test suite (CI runs it too); pytest options in ARGS
#   make lint    ruff and the import contracts alone
#   make messages  compile the translation catalogues (locale/*.po → .mo; run and test do it too)
#   make audit   known vulnerabilities in the installed packages (pip-audit; CI runs it too)
#
# Without DATABASE_URL / REDIS_URL the app uses a SQLite file and a filesystem broker
# under ./var/, so no PostgreSQL or Redis is needed on a developer machine.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help venv run lint test clean totp bench audit messages

help: ## Show this help
	@echo "Usage: make <target> [ARGS='...']"
	@echo
	@grep -hE '^[a-zA-Z_.-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "}; {printf "  %-8s %s\n", $$1, $$2}'
	@echo
	@echo "Variables: PYTHON=$(PYTHON) (interpreter for the venv), ARGS (extra pytest options)"

# The interpreter of the virtualenv; created once.
$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
		|| { echo "error: $(PYTHON) is older than Python 3.11; run 'make PYTHON=python3.11 ...'" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# The project and its dev extras; re-installed whenever pyproject.toml changes.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -e '.[dev]'
	@touch $(STAMP)

.venv: $(STAMP) ## Create .venv and install the project with its dev extras
venv: $(STAMP)

run: export DEBUG := true
run: $(STAMP) messages ## Run web + Celery worker + beat (Ctrl-C stops all three)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	$(PY) manage.py collectstatic --noinput -v 0
	@echo
	@echo "=================================================================="
	@echo "  Request form     http://localhost:8000/"
	@echo "  Officers' desk   http://localhost:8000/desk/   (admin: /admin/)"
	@echo "                   login: officer / demo-officer-pass, and the code that"
	@echo "                   'make totp' prints (in another terminal)"
	@echo "  API docs         http://localhost:8000/api/docs/"
	@echo
	@echo "  Verification emails (with the code) are printed in this console"
	@echo "  by the worker (lines starting 'worker.1 |')."
	@echo "  Ctrl-C stops the web server, the worker and beat."
	@echo "=================================================================="
	@echo
	$(VENV)/bin/honcho start -f Procfile.dev

bench: $(STAMP) ## Run the benchmarks against the local PostgreSQL and Redis; prints one table each
	$(PY) bench/run_all.py

totp: export DEBUG := true
totp: $(STAMP) ## Print the demo officer's current TOTP code (demo and development only)
	@$(PY) manage.py totp_code $(or $(USER_NAME),officer)

messages: $(STAMP) ## Compile the translation catalogues (locale/<lang>/LC_MESSAGES/django.po → .mo), pure Python
	$(PY) manage.py compile_catalogues

lint: $(STAMP) ## ruff, and the import contracts of .importlinter (the layers of dsr/)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

test: lint messages ## Lint, then run the test suite (CI runs exactly this); e.g. make test ARGS='-k deadline'
	@$(PY) -m pytest $(ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then \
		echo "make test: pytest collected no tests (exit 5); counting that as a failure" >&2; \
		exit 1; \
	fi; \
	exit $$status

audit: $(STAMP) ## Check the installed packages for known vulnerabilities (pip-audit; says so if it cannot reach its data)
	@$(PY) .ci/audit.py $(ARGS)

clean: ## Remove var/ (dev database, broker, keys, test leftovers), caches, collected static files and compiled catalogues; keeps .venv
	rm -rf var staticfiles .pytest_cache .hypothesis
	rm -f locale/*/LC_MESSAGES/*.mo
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
