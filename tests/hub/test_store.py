"""The replica store on its own, on SQLite and PostgreSQL: rows once by (machine, seq), the
verified head, gaps, and integrity alarms that keep both versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from vendd.errors import ConfigError
from vendd.hub.config import GapsConfig, load_hub_config
from vendd.hub.gaps import GapKeeper, backoff
from vendd.hub.store import RowIn, Store, StoreError
from vendd.ledger.journal import GENESIS, chain_hash


def chain(machine: str, n: int, salt: str = "") -> list[RowIn]:
    prev, out = GENESIS, []
    for seq in range(1, n + 1):
        fields = f'{{"n":{seq}{salt}}}'
        digest = chain_hash(prev, seq, f"2026-01-01T00:00:{seq:02d}+00:00", "note", fields)
        out.append(RowIn(machine, seq, f"2026-01-01T00:00:{seq:02d}+00:00", "note", fields,
                         digest))
        prev = digest
    return out


@pytest.fixture
def store(store_url: str) -> Store:
    s = Store(store_url)
    yield s
    s.close()


def test_rows_once_and_the_head_moves_only_over_a_contiguous_chain(store: Store) -> None:
    a, b = chain("a", 12), chain("b", 3)
    first = store.add_rows(a[:3] + a[5:] + b + b[:2])
    assert first.inserted == 13 and first.duplicates == 2
    assert store.machine("a").head_seq == 3 and store.machine("b").head_seq == 3
    gap = store.gaps("a")
    assert [(g.first, g.last) for g in gap] == [(4, 5)] and store.machine("a").gap_count == 1
    assert store.verified_rows("a") == [tuple(r[1:]) for r in a[:3]]
    second = store.add_rows(a[3:5] + a[:1])
    assert second.advanced == {"a": 12} and second.duplicates == 1
    assert store.gaps("a") == [] and store.gaps("a", open_only=False)[0].closed_at is not None
    assert store.row_count("a") == 12 and store.machine("a").head_hash == a[-1].hash


def test_another_version_of_a_held_row_is_an_alarm_and_the_hub_keeps_its_own(
        store: Store) -> None:
    good, forged = chain("a", 6), chain("a", 6, salt=',"x":1')
    store.add_rows(good)
    result = store.add_rows(forged[3:])
    assert len(result.alarms) == 3 and result.inserted == 0
    assert store.rows("a") == [(r.seq, r.ts, r.kind, r.fields, r.hash) for r in good]
    alarm = store.alarms("a")[0]
    assert (alarm.alarm, alarm.seq, alarm.hash, alarm.held_hash) == (
        "hash_mismatch", 4, forged[3].hash, good[3].hash)
    assert alarm.fields == forged[3].fields  # the other version, whole
    store.add_rows(forged[:1])
    assert store.alarms("a")[-1].alarm == "new_genesis"
    store.add_rows(forged[3:])  # the same forgery again: kept once
    assert len(store.alarms("a")) == 4 and store.machine("a").alarm_count == 4


def test_a_row_that_does_not_chain_is_set_aside_and_asked_for(store: Store) -> None:
    good = chain("a", 5)
    store.add_rows(good[:3])
    forged = RowIn("a", 4, good[3].ts, "note", '{"n":99}', "e" * 64)
    result = store.add_rows([forged])
    assert result.alarms and store.alarms("a")[0].alarm == "broken_chain"
    assert store.machine("a").head_seq == 3 and store.row_count("a") == 3
    assert [(g.first, g.last) for g in store.gaps("a")] == [(4, 4)]
    store.add_rows(good[3:])
    assert store.machine("a").head_seq == 5 and store.gaps("a") == []


def test_a_head_that_goes_backwards_is_an_alarm(store: Store) -> None:
    store.add_rows(chain("a", 8))
    assert not store.machine_reports_head("a", 9, 8)
    assert not store.machine_reports_head("a", 3, None)  # asked before a restart: unknown
    assert store.machine_reports_head("a", 5, 8)
    assert store.alarms("a")[-1].alarm == "head_backwards"
    assert store.machine("a").machine_head == 5


def test_gaps_are_asked_for_with_back_off_one_request_per_machine(store: Store) -> None:
    rows = chain("a", 30)
    store.add_rows(rows[:2] + rows[5:7] + rows[10:])
    asked: list[tuple[str, int, int]] = []
    config = GapsConfig(grace_s=1, retry_min_s=2, retry_max_s=5, max_rows=100)
    keeper = GapKeeper(config, store, lambda m, f, t: asked.append((m, f, t)))
    t0 = store.gaps("a")[0].opened_at
    assert keeper.tick(t0 + 0.5) == [] and asked == []  # within the grace
    assert len(keeper.tick(t0 + 1.5)) == 2 and asked == [("a", 3, 10)]
    assert keeper.tick(t0 + 2.6) == []  # back-off: next at +2 s
    keeper.tick(t0 + 3.6)
    assert asked[-1] == ("a", 3, 10) and len(asked) == 2
    assert [backoff(config, n) for n in range(4)] == [2, 4, 5, 5]


def test_schema_is_migrated_once_and_reopened(store_url: str) -> None:
    Store(store_url).close()
    again = Store(store_url)
    assert again.machines() == []
    again.close()


def test_a_database_that_cannot_be_opened_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open the hub's database"):
        Store("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(StoreError, match="not a database URL"):
        Store("::nonsense")


def test_config_errors_name_the_option(tmp_path: Path) -> None:
    bad = tmp_path / "hub.toml"
    bad.write_text('[mqtt]\nport = "x"\nshare_grup = "a"\n[store]\nurl = "mysql://x"\n'
                   '[accounts]\ntimezone = "Mars/Base"\n')
    with pytest.raises(ConfigError) as err:
        load_hub_config(bad)
    text = "\n".join(err.value.problems)
    assert f"{bad}: mqtt.port:" in text and "mqtt.share_grup: unknown option" in text
    assert "store.url: must start with sqlite:/// or postgresql://" in text
    assert "unknown time zone 'Mars/Base'" in text
    assert load_hub_config(Path(__file__).resolve().parents[2] / "config" /
                           "hub.example.toml").mqtt.prefix == "vendd"
