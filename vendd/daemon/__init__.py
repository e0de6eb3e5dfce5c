"""The daemon: the controller loop (queue -> machine -> ledger -> devices), the lifecycle that
builds and stops everything, and running under systemd."""
