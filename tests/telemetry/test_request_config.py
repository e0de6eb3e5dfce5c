"""`[mqtt.requests]` in the config file: who may sign, and one clear line per mistake."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import EXAMPLE_CONFIG

from vendd.config import load_config
from vendd.errors import ConfigError
from vendd.telemetry.signing import generate_key, public_key_text

EXAMPLE = EXAMPLE_CONFIG.read_text(encoding="utf-8")
KEY = public_key_text(generate_key())


def with_requests(tmp_path: Path, switch_on: str, coordinators: list[tuple[str, str]]) -> Path:
    blocks = "".join(f'[[mqtt.requests.coordinators]]\nid = "{cid}"\npublic_key = "{key}"\n\n'
                     for cid, key in coordinators)
    text = EXAMPLE.replace(f"{switch_on} = false", f"{switch_on} = true")
    text = text.replace("\n[ledger]\n", f"\n{blocks}[ledger]\n")
    path = tmp_path / "vendd.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    # Each problem reads "FILE:LINE: option: what is wrong".
    return [re.sub(rf"^{re.escape(str(path))}(:\d+)?: ", "", p) for p in caught.value.problems]


def test_coordinators_load_with_their_keys(tmp_path: Path) -> None:
    config = load_config(with_requests(tmp_path, "set_price", [("ana", KEY), ("bea", KEY)]))
    requests = config.mqtt.requests
    assert [c.id for c in requests.coordinators] == ["ana", "bea"]
    assert requests.enabled("set_price") and not requests.enabled("set_stock")
    assert (requests.max_age_s, requests.trust_clock) == (300, "synced")


@pytest.mark.parametrize(("coordinators", "expected"), [
    ([], "mqtt.requests: set_price: change requests are signed; list who may sign them in "
         "[[mqtt.requests.coordinators]]"),
    ([("ana", "AAAA")], "mqtt.requests.coordinators[ana].public_key: must be an Ed25519 public "
                        "key of 32 bytes, got 3"),
    ([("ana", "not base64!")], "mqtt.requests.coordinators[ana].public_key: must be base64"),
    ([("ana", KEY), ("ana", KEY)], "mqtt.requests: coordinators[ana].id: duplicate coordinator "
                                   "id"),
    ([("Ana Maria", KEY)], "mqtt.requests.coordinators"),
])
def test_request_config_mistakes_are_one_line_each(
        tmp_path: Path, coordinators: list[tuple[str, str]], expected: str) -> None:
    found = problems(with_requests(tmp_path, "set_price", coordinators))
    assert len(found) == 1 and found[0].startswith(expected), found


def test_read_only_requests_need_no_coordinator(tmp_path: Path) -> None:
    config = load_config(with_requests(tmp_path, "ping", []))
    assert config.mqtt.requests.enabled("ping") and config.mqtt.requests.coordinators == []
