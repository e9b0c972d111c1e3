# LogPilot quick start: `make run` then `make test`. Everything installs into .venv from nothing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export LOGPILOT_HOME ?= $(CURDIR)/.logpilot
export DAGSTER_HOME  ?= $(CURDIR)/.dagster_home
UI_PORT ?= 3000

.PHONY: install run ui test lint bench bench-loghub bench-throughput clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# torch first and pinned: a range would pull a multi-GB CUDA build (see README, "Installing").
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/logpilot bootstrap

ui: install
	mkdir -p $(DAGSTER_HOME)
	test -f $(DAGSTER_HOME)/dagster.yaml || cp logpilot_dagster/dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m logpilot_dagster.jobs.launch prepare  # the tables first: the web UI and the daemon would race
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

test: install
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check logpilot_dagster tests benchmarks

bench: bench-loghub bench-throughput

bench-loghub: install
	$(VENV)/bin/logpilot bench loghub --data ../shared/data/loghub_2k --json benchmarks/out/loghub.json

bench-throughput: install
	$(VENV)/bin/logpilot bench throughput --lines 2000000 --json benchmarks/out/throughput.json

clean:
	rm -rf .logpilot .dagster_home benchmarks/out
