"""The dispenser rig's fixture, for the dispenser test files."""

from dispenser_rig import rigs  # noqa: F401  (a fixture: pytest finds it here)
