# `make install` / `make uninstall` on Raspberry Pi OS (Bookworm or later), as root:
#   sudo make install      # venv in /opt/vendd, vendd user, /etc/vendd/vendd.toml, unit enabled
#   sudo make uninstall    # removes the program and the unit; keeps the ledger and the config
# Included from the top-level Makefile (`include systemd/install.mk`). Variables are prefixed
# VENDD_ so they do not clash with the Makefile's own; override any on the command line.

VENDD_SRC      := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
VENDD_PREFIX   ?= /opt/vendd
VENDD_VENV     ?= $(VENDD_PREFIX)/venv
VENDD_CONFDIR  ?= /etc/vendd
VENDD_STATEDIR ?= /var/lib/vendd
VENDD_UNITDIR  ?= /etc/systemd/system
VENDD_BINLINK  ?= /usr/local/bin/vendd
VENDD_USER     ?= vendd
VENDD_CONFOWNER ?= root
VENDD_GROUPS   ?= gpio dialout i2c
VENDD_PYTHON   ?= /usr/bin/python3
# Debian packages: the system's lgpio (the PyPI one is source-only and needs the C library),
# and venv support.
VENDD_APT      ?= python3-venv python3-lgpio

.PHONY: install uninstall install-apt install-user install-venv install-config install-unit

install: install-apt install-user install-venv install-config install-unit
	@echo
	@echo "vendd is installed and enabled (not started). Next:"
	@echo "  1. sudo nano $(VENDD_CONFDIR)/vendd.toml   (each maker's own pin!), then:"
	@echo "     sudo vendd check-config $(VENDD_CONFDIR)/vendd.toml"
	@echo "  2. sudo vendd wiring --config $(VENDD_CONFDIR)/vendd.toml     (the pin table)"
	@echo "  3. cd $(VENDD_STATEDIR) && sudo -u $(VENDD_USER) vendd selftest --config $(VENDD_CONFDIR)/vendd.toml"
	@echo "  4. sudo systemctl start vendd; journalctl -u vendd -f"

install-apt:
	@test "$$(id -u)" = 0 || { echo "make install must run as root: sudo make install"; exit 1; }
	@if command -v apt-get >/dev/null; then \
	  missing=""; for p in $(VENDD_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi; \
	else echo "no apt-get: install python3-venv and python3-lgpio (or lgpio) yourself"; fi

install-user: install-apt
	@for g in $(VENDD_GROUPS); do getent group $$g >/dev/null || groupadd --system $$g; done
	@id -u $(VENDD_USER) >/dev/null 2>&1 || \
	  useradd --system --user-group --home-dir $(VENDD_STATEDIR) --no-create-home \
	    --shell /usr/sbin/nologin --comment "vendd vending machine" $(VENDD_USER)
	usermod -a -G $(shell echo $(VENDD_GROUPS) | tr ' ' ',') $(VENDD_USER)
	install -d -m 0750 -o $(VENDD_USER) -g $(VENDD_USER) $(VENDD_STATEDIR)

# --system-site-packages: the venv sees apt's python3-lgpio, which satisfies the [pi] extra.
install-venv: install-apt
	test -x $(VENDD_VENV)/bin/python || $(VENDD_PYTHON) -m venv --system-site-packages $(VENDD_VENV)
	$(VENDD_VENV)/bin/python -m pip install -q --upgrade pip
	$(VENDD_VENV)/bin/python -m pip install -q --upgrade "$(VENDD_SRC)[pi]"
	ln -sf $(VENDD_VENV)/bin/vendd $(VENDD_BINLINK)

# The config is copied from the example only when there is none: a reinstall never
# overwrites the machine's own settings. The example's PINs are printed in this repository,
# so a fresh copy comes with a warning that cannot be missed (and `vendd run` refuses them).
# Modes are enforced on every install, not only the first:
#   vendd.toml      0640 root:vendd  (vendd reads it; only root edits it)
#   mqtt-password   0640 root:vendd  (LoadCredential= reads it as root; password_file as vendd)
#   the ledger      0600 vendd:vendd in a 0750 folder (the accounts: vendd writes, sudo reads)
install-config: install-user
	install -d -m 0755 -o $(VENDD_CONFOWNER) -g $(VENDD_CONFOWNER) $(VENDD_CONFDIR)
	@if [ -e $(VENDD_CONFDIR)/vendd.toml ]; then \
	  echo "keeping the existing $(VENDD_CONFDIR)/vendd.toml"; \
	else \
	  install -m 0640 -o $(VENDD_CONFOWNER) -g $(VENDD_USER) $(VENDD_SRC)/config/vendd.example.toml \
	    $(VENDD_CONFDIR)/vendd.toml; \
	  echo; \
	  echo "################################################################################"; \
	  echo "# WARNING: $(VENDD_CONFDIR)/vendd.toml is the EXAMPLE config."; \
	  echo "# Its makers' service-menu PINs are public (they are printed in the repository):"; \
	  echo "# vendd will not run until each maker has a PIN of her own."; \
	  echo "#   sudo nano $(VENDD_CONFDIR)/vendd.toml"; \
	  echo "#   (sudo vendd pin-hash --config $(VENDD_CONFDIR)/vendd.toml prints a hash to use instead)"; \
	  echo "################################################################################"; \
	  echo; \
	fi
	chown $(VENDD_CONFOWNER):$(VENDD_USER) $(VENDD_CONFDIR)/vendd.toml
	chmod 0640 $(VENDD_CONFDIR)/vendd.toml
	@if [ ! -e $(VENDD_CONFDIR)/mqtt-password ]; then \
	  install -m 0640 -o $(VENDD_CONFOWNER) -g $(VENDD_USER) /dev/null $(VENDD_CONFDIR)/mqtt-password; \
	  echo "created an empty $(VENDD_CONFDIR)/mqtt-password (the broker's password goes on its first line)"; \
	fi
	chown $(VENDD_CONFOWNER):$(VENDD_USER) $(VENDD_CONFDIR)/mqtt-password
	chmod 0640 $(VENDD_CONFDIR)/mqtt-password
	install -d -m 0750 -o $(VENDD_USER) -g $(VENDD_USER) $(VENDD_STATEDIR)
	chown $(VENDD_USER):$(VENDD_USER) $(VENDD_STATEDIR)
	chmod 0750 $(VENDD_STATEDIR)
	find $(VENDD_STATEDIR) -maxdepth 1 -name 'vendd.db*' -exec chown $(VENDD_USER):$(VENDD_USER) {} + \
	  -exec chmod 0600 {} +

install-unit: install-venv install-config
	install -m 0644 $(VENDD_SRC)/systemd/vendd.service $(VENDD_UNITDIR)/vendd.service
	systemctl daemon-reload
	systemctl enable vendd.service

# The ledger ($(VENDD_STATEDIR)), the config ($(VENDD_CONFDIR)) and the vendd user stay: the
# ledger is the machine's accounts. Remove them by hand if that is really meant.
uninstall:
	@test "$$(id -u)" = 0 || { echo "make uninstall must run as root: sudo make uninstall"; exit 1; }
	-systemctl disable --now vendd.service
	rm -f $(VENDD_UNITDIR)/vendd.service
	-systemctl daemon-reload
	rm -f $(VENDD_BINLINK)
	rm -rf $(VENDD_PREFIX)
	@echo "kept $(VENDD_STATEDIR) (the ledger), $(VENDD_CONFDIR) and the $(VENDD_USER) user"
