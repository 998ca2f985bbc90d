# Every target creates .venv itself on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Installs take their versions from the lock files (`make lock` refreshes them), so a new release
# of a dependency or a tool cannot change what CI runs without a commit that says so.
# PIP_CONSTRAINT (not --constraint) so that the isolated build of our own package gets the locked
# setuptools too.
CONSTRAINTS := constraints.txt
TEAMS_CONSTRAINTS := constraints-teams.txt
PIP_LOCKED := PIP_CONSTRAINT=$(CURDIR)/$(CONSTRAINTS)
PIP_LOCKED_TEAMS := PIP_CONSTRAINT=$(CURDIR)/$(TEAMS_CONSTRAINTS)

.PHONY: test test-main test-bot-teamssdk test-webex-bot-interop demo lint bench soak lock clean

# The wheelhouse holds the runtime dependencies as wheels (from pip's cache, just filled), so
# tests/test_packaging.py installs the built wheel in a venv of its own without any index.
WHEELHOUSE := $(VENV)/wheelhouse

$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PIP_LOCKED) $(PY) -m pip install --quiet --upgrade pip
	$(PIP_LOCKED) $(PY) -m pip install --quiet -e '.[dev]'
	rm -rf $(WHEELHOUSE)
	$(PIP_LOCKED) $(PY) -m pip wheel --quiet --wheel-dir $(WHEELHOUSE) .
	rm -f $(WHEELHOUSE)/webex_tokenbot-*.whl
	touch $(STAMP)

# The whole suite: everything on webexpythonsdk, then the bot suite again on webexteamssdk.
test: test-main test-bot-teamssdk

test-main: $(STAMP)
	$(PY) -m pytest -m "not soak" $(PYTEST_ARGS)

# The bot suite again on webexteamssdk 1.7, in its own venv: it pins PyJWT 1.7.1, which
# cannot live beside webexpythonsdk (PyJWT >= 2.8). It gets the `test` extra only: no
# linters, no Playwright, no benchmark profiler (the bot tests use none of them).
TEAMS_VENV := .venv-teams
TEAMS_PY := $(TEAMS_VENV)/bin/python
TEAMS_STAMP := $(TEAMS_VENV)/.installed

$(TEAMS_STAMP): pyproject.toml $(CONSTRAINTS) $(TEAMS_CONSTRAINTS)
	$(PYTHON) -m venv $(TEAMS_VENV)
	$(PIP_LOCKED) $(TEAMS_PY) -m pip install --quiet --upgrade pip
	$(PIP_LOCKED) $(TEAMS_PY) -m pip install --quiet -e '.[test]'
	$(TEAMS_PY) -m pip uninstall --quiet --yes webexpythonsdk
	$(PIP_LOCKED_TEAMS) $(TEAMS_PY) -m pip install --quiet 'webexteamssdk==1.7'
	touch $(TEAMS_STAMP)

test-bot-teamssdk: $(TEAMS_STAMP)
	TOKENBOT_WEBEX_SDK=webexteamssdk $(TEAMS_PY) -m pytest -m "not soak" tests/bot $(PYTEST_ARGS)

# fbradyirl/webex_bot against the emulator's Mercury socket, in a venv of its own (its pins).
WEBEXBOT_VENV := .venv-webexbot

$(WEBEXBOT_VENV)/.installed:
	$(PYTHON) -m venv $(WEBEXBOT_VENV)
	$(WEBEXBOT_VENV)/bin/python -m pip install --quiet 'webex_bot>=1.3,<2'
	touch $(WEBEXBOT_VENV)/.installed

test-webex-bot-interop: $(STAMP) $(WEBEXBOT_VENV)/.installed
	$(PY) -m pytest tests/emulator/test_mercury_interop.py $(PYTEST_ARGS)

demo: $(STAMP)
	$(VENV)/bin/tokenbot demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m bench

# The long forms of tests/reliability (flood 2,000, chaos 1,000, two instances 200, SIGKILL 1,000,
# 500 slow connections held for 30 s, fuzzing thousands of examples): about six minutes. Their
# short forms run in `make test`.
soak: $(STAMP)
	$(PY) -m pytest -m soak $(PYTEST_ARGS)

# Refresh the lock files: resolve pyproject.toml afresh in a throw-away venv and write down every
# version that got installed (pip and setuptools included). Run it after changing a dependency,
# review the diff, commit it with the change. It needs the package index, like any install.
LOCK_VENV := .venv-lock
LOCK_PY := $(LOCK_VENV)/bin/python
LOCK_HEADER = echo "\# Written by make lock ($(1)) on $$($(LOCK_PY) --version); do not edit by hand."
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_PY) -m pip install --quiet --upgrade pip setuptools
	$(LOCK_PY) -m pip install --quiet '.[dev]'
	{ $(call LOCK_HEADER,the dev extra); $(LOCK_PY) -m pip freeze --all --exclude webex-tokenbot; } > $(CONSTRAINTS)
	$(LOCK_PY) -m pip uninstall --quiet --yes webexpythonsdk
	$(LOCK_PY) -m pip install --quiet 'webexteamssdk==1.7'
	{ $(call LOCK_HEADER,then webexteamssdk 1.7 for .venv-teams); $(LOCK_PY) -m pip freeze --all --exclude webex-tokenbot; } > $(TEAMS_CONSTRAINTS)
	rm -rf $(LOCK_VENV)

clean:
	rm -rf $(VENV) $(TEAMS_VENV) $(LOCK_VENV) .pytest_cache .mypy_cache .ruff_cache
