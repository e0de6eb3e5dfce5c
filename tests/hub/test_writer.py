"""The ingest's writer: a child process with its own connection to the store, one batch at a
time; a store in memory is written in the ingest's own thread."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_store import chain

from vendd.hub.store import Store, StoreError
from vendd.hub.writer import Done, InlineWriter, Job, ProcessWriter, writer_for


@pytest.fixture
def store(store_url: str) -> Store:
    s = Store(store_url)
    yield s
    s.close()


def _wait(writer: ProcessWriter | InlineWriter) -> Done:
    done = writer.result(60)
    assert done is not None, "the writer did not answer"
    return done


def test_the_child_stores_batches_and_ends_with_its_pipe(store: Store) -> None:
    writer = writer_for(store)
    assert isinstance(writer, ProcessWriter)
    writer.open()
    try:
        rows = chain("museo-1", 30)
        writer.submit(Job(rows=rows[:20], statuses={"museo-1": "online"}))
        assert writer.busy
        done = _wait(writer)
        assert not writer.busy and done.result.inserted == 20 and done.head_alarms == 0
        # Again with the same rows and the rest: the duplicates are counted, never stored twice.
        done = _wait(_submitted(writer, Job(rows=rows[10:], states={"museo-1": '{"a": 1}'},
                                            heads={"museo-1": (30, 20)})))
        assert (done.result.inserted, done.result.duplicates) == (10, 10)
        m = store.machine("museo-1")
        assert m is not None and m.head_seq == 30 and m.status == "online"
        assert m.state == {"a": 1} and m.machine_head == 30
        # Its head going backwards is an alarm, raised in the child and counted here.
        assert _wait(_submitted(writer, Job(heads={"museo-1": (12, 30)}))).head_alarms == 1
        proc = writer._proc
        assert proc is not None and proc.pid != os.getpid()
    finally:
        writer.close()
    assert proc.returncode == 0  # it ended when the pipe closed
    assert [a.alarm for a in store.alarms("museo-1")] == ["head_backwards"]


def _submitted(writer: ProcessWriter, job: Job) -> ProcessWriter:
    writer.submit(job)
    return writer


def test_a_store_the_child_cannot_open_is_one_error_line(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        writer = ProcessWriter(store)
        garbage = tmp_path / "garbage.db"
        garbage.write_bytes(b"this is not a database" * 100)
        writer.url = f"sqlite:///{garbage}"
        with pytest.raises(StoreError) as caught:
            writer.submit(Job(rows=chain("m", 1)))
        said = str(caught.value)
        assert said.startswith("the hub's writer cannot open the store:") and "\n" not in said
        assert not writer.busy
    finally:
        store.close()


def test_a_store_in_memory_is_written_in_the_ingest_thread() -> None:
    store = Store("sqlite://")
    try:
        writer = writer_for(store)
        assert isinstance(writer, InlineWriter)
        writer.submit(Job(rows=chain("m", 3)))
        assert writer.busy and _wait(writer).result.inserted == 3 and not writer.busy
        assert store.machine("m").head_seq == 3
    finally:
        store.close()


def test_a_batch_the_store_refuses_is_an_error_and_the_child_takes_the_next(
        postgres_url: str) -> None:
    store = Store(postgres_url)
    writer = ProcessWriter(store)
    try:
        too_long = chain("m" * 100, 1)  # PostgreSQL refuses a machine id over 64 characters
        writer.submit(Job(rows=too_long))
        with pytest.raises(StoreError) as caught:
            _wait(writer)
        assert str(caught.value).startswith("cannot store 1 rows:")
        assert not writer.busy
        pid = writer._proc.pid if writer._proc is not None else None
        assert _wait(_submitted(writer, Job(rows=chain("m", 2)))).result.inserted == 2
        assert writer._proc is not None and writer._proc.pid == pid  # the same child
        assert store.machine("m").head_seq == 2 and store.machine("m" * 100) is None
    finally:
        writer.close()
        store.close()
