"""Money is integer cents (minor units) everywhere; this module only formats it."""

from __future__ import annotations

# ISO 4217 codes the machine can be configured with, and the symbol shown on the display.
CURRENCY_SYMBOLS: dict[str, str] = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "MXN": "$",
    "COP": "$",
    "PEN": "S/",
    "CLP": "$",
    "ARS": "$",
    "BOB": "Bs",
    "BRL": "R$",
    "CAD": "$",
    "CHF": "CHF ",
    "JPY": "¥",
}


def format_money(cents: int, currency: str = "USD", decimals: int = 2) -> str:
    """`125` -> `$1.25`. Raises TypeError for anything but an int: money is never a float."""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise TypeError(f"money must be integer minor units, got {type(cents).__name__}")
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 10**decimals)
    if decimals == 0:
        return f"{sign}{symbol}{whole}"
    return f"{sign}{symbol}{whole}.{frac:0{decimals}d}"


class Money:
    """Formatter bound to the machine's currency."""

    def __init__(self, currency: str = "USD", decimals: int = 2) -> None:
        self.currency = currency
        self.decimals = decimals

    def __call__(self, cents: int) -> str:
        return format_money(cents, self.currency, self.decimals)
