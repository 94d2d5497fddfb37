# The two set-up commands: `make run` (the app on its embedded default) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# pytest-xdist processes for `make test`: 2 on a machine with two cores or more, else 0 (one
# process: on one core a second one only adds its start-up). Each process has its own test
# database (test_<name>_gw0, _gw1 on PostgreSQL); a real-worker test sends its tasks to a queue
# of its own, so no process's Celery worker runs another's tasks.
TEST_WORKERS ?= $(shell n=$$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1); [ "$$n" -ge 2 ] && echo 2 || echo 0)

.PHONY: run test lint bench messages

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "Alliance runs on http://127.0.0.1:8000/ (log in with a demo login above; Ctrl-C stops it)"
	$(PY) manage.py runserver 127.0.0.1:8000

test: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

bench: $(VENV)/.dev
	$(PY) bench/early_warning.py

messages: $(VENV)/.dev
	$(PY) manage.py makemessages -l es --ignore=.venv
	$(PY) manage.py compilemessages --ignore=.venv
