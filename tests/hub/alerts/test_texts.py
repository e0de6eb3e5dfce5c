"""Every alert's text, in both languages and with every notice, fills all its parameters and
fits a phone's notification with long names (a 24-letter machine name and product)."""

from __future__ import annotations

import pytest

from vendd.hub.alerts import texts

LONG = {"machine": "Casa de la Cultura - 02", "slot": "B12", "product": "Bolso bordado de totora",
        "stock": 2, "fault": "jammed", "device": "coin_validator", "minutes": 1440,
        "percent": 100, "hours": 72, "amount": "$123.45", "first": 1_000_000,
        "last": 1_000_500, "alarm": "hash_mismatch", "seq": 1_000_000}
PHONE = 110  # characters a lock screen shows of a notification


@pytest.mark.parametrize("rule", sorted(texts.RULES))
@pytest.mark.parametrize("language", ["es", "en"])
def test_every_rule_text_is_whole_and_short(rule: str, language: texts.Language) -> None:
    for notice in texts.NOTICES:
        text = texts.notice(notice, rule, language, LONG)
        assert "?" not in text and "{" not in text, text
        assert len(text) <= PHONE, (len(text), text)
    assert texts.line(rule, "es", LONG) != texts.line(rule, "en", LONG)
