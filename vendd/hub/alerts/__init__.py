"""Alerts of the hub: rules over the replica (`rules.py`), their lifecycle (`engine.py`:
open once, remind, acknowledge, resolve; every transition stored), routing to people and
their channels (`routing.py`), deliveries through an outbox on their own thread
(`delivery.py`, `channels.py`), and the dashboard's banner and Alertas page (`web.py`)."""
