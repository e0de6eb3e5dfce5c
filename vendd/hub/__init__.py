"""The collective's hub: a verified replica of every machine's journal, off the machines.

    config.py    the models of `hub.toml` and its loading
    store.py     the replica store (SQLAlchemy Core over SQLite or PostgreSQL; its tables)
    schema.py    the tables as Core objects; migrate.py + migrations/: Alembic, run on start
    engine.py    opening the database; records.py: what the store takes and gives back
    chain.py     walking a machine's rows along the journal's own hash chain
    ingest.py    the MQTT side: events, status and state in; replay requests out
    feedrow.py   a journal row read back from the feed's payload
    writer.py    the ingest's writes, in a child process beside the network loop
    gaps.py      which rows are missing and when to ask the machine for them again
    replica.py   a machine's verified rows as a ledger file, for the ledger's own reports
    reports.py   `vendd hub report`: statements, cash and stock from the replica
    status.py    `vendd hub status`: machines, heads, gaps and integrity alarms
    runner.py    `vendd hub run`: ingest plus the other components in one process
    web.py       the hub's small HTTP side: status and journal exports
    export.py    a machine's verified rows as JSON lines
    cli.py       the `vendd hub ...` commands"""
