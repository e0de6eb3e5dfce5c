"""The one exception tree of vendd. Low-level errors are re-raised `from` their cause."""

from __future__ import annotations


class VenddError(Exception):
    """Base of every error vendd raises on purpose."""


class ConfigError(VenddError):
    """The config file is missing, unreadable or invalid. `problems` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class LedgerError(VenddError):
    """The ledger cannot be opened, migrated or written."""


class LedgerIntegrityError(LedgerError):
    """The journal was edited, truncated or does not match the state tables."""


class DeviceError(VenddError):
    """A device cannot be opened or stopped answering."""


class ProtocolError(DeviceError):
    """Bytes on the wire that do not form a valid frame or reply."""


class TelemetryError(VenddError):
    """The MQTT feed cannot be set up (bad TLS files, unreadable password, ...)."""


class StoreError(VenddError):
    """The hub's database cannot be opened, migrated, read or written."""
