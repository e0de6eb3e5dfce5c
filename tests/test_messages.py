"""The message catalogue: both languages everywhere, buyer screens fit a 16x2 display, and
every key the machine and the menu show exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from vendd.hw.display import layout, to_ascii
from vendd.messages import CATALOGUE, LABELS, LANGUAGES, label, render

ROOT = Path(__file__).resolve().parent.parent

# The longest values a screen can meet: amounts up to $99.99, slot ids up to B12, names cut to
# ten letters by the menu, counts up to two digits, the longest key names as hints.
LONG = {"credit": "$99.99", "price": "$99.99", "amount": "$99.99", "slot": "B12",
        "today": "$99.99", "month": "$99.99", "share": "$99.99", "expected": "$99.99",
        "counted": "$99.99", "low": "$99.99", "high": "$99.99", "maker": "Maximiliana"[:10],
        "entered": "********", "minus": "B12", "plus": "B12", "ok": "B12", "stock": "12",
        "target": "12", "capacity": "12", "left": "10", "minutes": "1440", "wait": "99 min",
        "count": "99", "today_count": "99"}
# A `_label` parameter takes each label it can carry.
LABEL_SETS = {
    "item_label": ("restock", "price", "sales", "collect", "test", "status", "exit"),
    "outcome_label": ("delivered", "jammed", "no_drop", "stuck_at_home", "interrupted"),
    "fault_label": ("jammed", "no_drop", "stuck_at_home", "interrupted", "fault"),
    "device_label": ("coin_acceptor", "changer", "bill_validator", "card_reader", "dispenser",
                     "buttons", "display", "mqtt"),
    "network_label": ("net_up", "net_down", "net_unknown"),
    "broker_label": ("feed_up", "feed_down", "feed_off", "feed_unknown"),
}
BUYER = sorted(k for k in CATALOGUE if not k.startswith("svc_"))


def _filled(key: str) -> list[dict[str, str]]:
    """Every way to fill `key`'s fields with the longest values: one dict per label choice."""
    fields = set().union(*(_fields(line) for lang in LANGUAGES for line in CATALOGUE[key][lang]))
    out = [{f: LONG[f] for f in fields if f in LONG}]
    for name in sorted(fields & set(LABEL_SETS)):
        out = [d | {name: value} for d in out for value in LABEL_SETS[name]]
    assert all(set(d) == fields for d in out), (key, fields - set(out[0]))
    return out


def _fields(line: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(line) if f}


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_every_message_exists_in_both_languages_with_the_same_fields(key: str) -> None:
    entry = CATALOGUE[key]
    assert set(entry) == set(LANGUAGES), key
    assert len(entry["es"]) == len(entry["en"]) == 2, key
    es = set().union(*(_fields(line) for line in entry["es"]))
    en = set().union(*(_fields(line) for line in entry["en"]))
    assert es == en, key


def test_every_label_exists_in_both_languages() -> None:
    for key, entry in LABELS.items():
        assert set(entry) == set(LANGUAGES) and all(entry.values()), key


@pytest.mark.parametrize("size", [(16, 2), (20, 4)])
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_every_screen_fits_16x2_and_20x4_whole(key: str, language: str,
                                              size: tuple[int, int]) -> None:
    cols, rows = size
    for params in _filled(key):
        lines = render(key, language, params)
        shown = layout(lines, cols, rows)
        text = [line.rstrip() for line in shown if line.strip()]
        assert text == [to_ascii(line) for line in lines if line], (key, language, lines)


def test_no_jargon_on_the_seamstresses_screens() -> None:
    words = ("mqtt", "desde rec", "diferenci", "coll ", "broker", "_")
    for key in (k for k in CATALOGUE if k.startswith("svc_")):
        for params in _filled(key):
            for language in LANGUAGES:
                text = " ".join(render(key, language, params)).lower()
                assert not [w for w in words if w in text], (key, language, text)


def test_labels_are_translated_in_label_parameters() -> None:
    assert render("svc_menu", "es", {"item_label": "restock", "minus": "A1", "plus": "A2",
                                     "ok": "B4"}) == ["> Reponer", "A1< A2> B4=OK"]
    assert render("svc_menu", "en", {"item_label": "collect", "minus": "A1", "plus": "A2",
                                     "ok": "B4"})[0] == "> Collect cash"
    assert label("a_new_fault", "es") == "a_new_fault"  # shown as it is, not a crash


def test_every_key_the_code_shows_is_in_the_catalogue() -> None:
    used: set[str] = set()
    pattern = re.compile(r"""(?:Show|say)\(\s*["']([a-z_]+)["']""")
    for path in [*(ROOT / "vendd").rglob("*.py")]:
        used |= set(pattern.findall(path.read_text(encoding="utf-8")))
    for name in ("menu/state", "menu/keys", "menu/screens", "menu/core"):
        used |= set(re.findall(r'"(svc_[a-z_]+)"', (ROOT / f"vendd/{name}.py").read_text()))
    assert used, "the pattern found nothing"
    assert used - set(CATALOGUE) == set()
