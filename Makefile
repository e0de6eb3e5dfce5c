# vendd — quickstart: `make demo` (the daemon on the simulated machine) and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: demo test lint bench chaos soak clean hub-demo

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/vendd-sim demo --config config/sim.toml

# The MQTT tests run against a real Mosquitto; on a machine without one it is installed
# from the distribution's packages (needs root, as in CI).
test: lint
	@command -v mosquitto >/dev/null || test -x /usr/sbin/mosquitto || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto)
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql)
	@test -x /usr/bin/chromium && test -x /usr/bin/chromedriver || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	   chromium chromium-driver)
	$(PY) -m pytest

# Style, types and the architecture: DESIGN.md's layers and no import cycles (pyproject.toml,
# [tool.importlinter]) fail the build like a failing test.
lint: $(STAMP)
	$(VENV)/bin/ruff check vendd simulator tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) -m bench

# The whole machine under chaos (issue 10): `make chaos SEED=42` replays one seed (random when
# unset; printed); `make soak HOURS=1` runs it on one daemon process and reports RSS and open
# files over time. Files of the run stay in var/chaos/SEED or var/soak/SEED.
SEED  ?=
HOURS ?= 1
chaos: $(STAMP)
	$(PY) tests/chaos/chaos_harness.py chaos $(if $(SEED),--seed $(SEED))

soak: $(STAMP)
	$(PY) tests/chaos/chaos_harness.py soak --hours $(HOURS) $(if $(SEED),--seed $(SEED))

# The hub on this computer: Mosquitto, three simulated machines selling, and `vendd hub run`
# (SQLite in var/hub-demo); prints the hub's address. Ctrl-C stops everything.
hub-demo: $(STAMP)
	@command -v mosquitto >/dev/null || test -x /usr/sbin/mosquitto || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto)
	$(PY) -m simulator.hub_demo

clean:
	rm -rf $(VENV) var .pytest_cache

# make install / make uninstall on a Raspberry Pi: see README, "On a Raspberry Pi".
include systemd/install.mk
