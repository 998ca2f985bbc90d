# Every target creates .venv itself on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test test-main test-bot-teamssdk test-webex-bot-interop demo lint bench soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The whole suite: everything on webexpythonsdk, then the bot suite again on webexteamssdk.
test: test-main test-bot-teamssdk

test-main: $(STAMP)
	$(PY) -m pytest -m "not soak" $(PYTEST_ARGS)

# The bot suite again on webexteamssdk 1.7, in its own venv: it pins PyJWT 1.7.1, which
# cannot live beside webexpythonsdk (PyJWT >= 2.8).
TEAMS_VENV := .venv-teams
TEAMS_PY := $(TEAMS_VENV)/bin/python
TEAMS_STAMP := $(TEAMS_VENV)/.installed

$(TEAMS_STAMP): pyproject.toml
	$(PYTHON) -m venv $(TEAMS_VENV)
	$(TEAMS_PY) -m pip install --quiet --upgrade pip
	$(TEAMS_PY) -m pip install --quiet -e '.[dev]'
	$(TEAMS_PY) -m pip uninstall --quiet --yes webexpythonsdk
	$(TEAMS_PY) -m pip install --quiet 'webexteamssdk==1.7'
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

clean:
	rm -rf $(VENV) $(TEAMS_VENV) .pytest_cache .mypy_cache .ruff_cache
