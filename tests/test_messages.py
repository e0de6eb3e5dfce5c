"""The message catalogue: both languages everywhere, buyer screens fit a 16x2 display, and
every key the machine and the menu show exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from vendd.hw.display import layout
from vendd.messages import CATALOGUE, LABELS, LANGUAGES, label, render

ROOT = Path(__file__).resolve().parent.parent

# The longest values a buyer can meet: prices up to $99.99, slot ids up to B12.
REALISTIC = {"credit": "$99.99", "price": "$99.99", "amount": "$99.99", "slot": "B12"}
BUYER = sorted(k for k in CATALOGUE if not k.startswith("svc_"))


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


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("key", BUYER)
def test_every_buyer_message_fits_a_16x2_display(key: str, language: str) -> None:
    lines = render(key, language, REALISTIC)
    assert len(lines) <= 2
    for line in lines:
        assert len(line) <= 16, (key, language, line)
    # ... and what the LCD then shows still has the price and the credit whole.
    shown = layout(lines, 16, 2)
    for line, fitted in zip(lines, shown, strict=False):
        for amount in re.findall(r"\$\d+\.\d\d", line):
            assert amount in fitted


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


def test_service_screens_fit_16_columns_with_ordinary_values() -> None:
    params = {"entered": "****5", "minus": "A1", "plus": "A2", "ok": "B4", "maker": "Carmen",
              "item_label": "restock", "slot": "B12", "stock": "12", "target": "12",
              "capacity": "12", "before": "$9.75", "price": "$10.00", "today": "$99.50",
              "since": "$99.50", "expected": "$99.50", "counted": "$99.50", "left": "2",
              "minutes": "5", "low": "$0.25", "high": "$20.00", "difference": "-$1.10",
              "outcome_label": "stuck_at_home", "network_label": "down",
              "broker_label": "unknown", "fault_label": "jammed", "device": "coin_acceptor",
              "count": "7", "today_count": "3"}
    too_long = []
    for key in (k for k in CATALOGUE if k.startswith("svc_")):
        for language in LANGUAGES:
            for line in render(key, language, params):
                if len(line) > 16 and key not in ("svc_status_device", "svc_collected",
                                                  "svc_sales"):
                    too_long.append((key, language, line))
    assert too_long == []
    for item in ("restock", "price", "sales", "collect", "test", "status", "exit"):
        for language in LANGUAGES:
            line = render("svc_menu", language, params | {"item_label": item})[0]
            assert len(line) <= 16, line
    # The few that can run long keep their amount whole on the display.
    shown = layout(render("svc_collected", "es", params), 16, 2)
    assert shown[1].endswith("-$1.10")
