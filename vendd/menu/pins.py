"""PINs on the selection buttons: which button types which digit, matching what was typed
against the configured PINs (plain digits or scrypt hashes), and the checks a config's PINs
must pass. Pure computation (hashlib), no I/O.

A PIN is typed one press per digit, then the coin-return button as OK. The buttons in config
order type 1, 2, ... 9, 0; a machine with fewer than ten buttons gives the digits left over to
the buttons again from the first, as a telephone keypad does: with eight buttons A1 types 1
or 9 and A2 types 2 or 0. So what the menu compares is the sequence of buttons pressed (the
"keyed" form of a PIN: each digit replaced by the first digit of its button), and a hash is
made of that keyed form for a given number of buttons."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

DIGITS = "1234567890"  # the order the buttons type them
MIN_LEN, MAX_LEN = 4, 8
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
PREFIX = "scrypt$"

# The PINs of config/vendd.example.toml (and the simulator's config): public, so `vendd run`
# refuses a machine that still uses them.
EXAMPLE_PINS = frozenset({"1357", "2468", "3579", "4680"})


def key_of_digit(digit: str, keys: int) -> int:
    """The index of the button that types `digit` on a machine with `keys` buttons."""
    return DIGITS.index(digit) % keys if keys < len(DIGITS) else DIGITS.index(digit)


def digit_of_key(index: int) -> str | None:
    """The keyed digit a button press adds (None: the button types no digit)."""
    return DIGITS[index] if index < len(DIGITS) else None


def keyed(pin: str, keys: int) -> str:
    """`pin` as the buttons that type it, each written as its button's first digit."""
    return "".join(DIGITS[key_of_digit(d, keys)] for d in pin)


def key_digits(keys: Sequence[str]) -> list[tuple[str, str]]:
    """(button, the digits it types) for a PIN pad made of `keys`: the wiring label."""
    out: list[tuple[str, list[str]]] = [(k, []) for k in keys[: len(DIGITS)]]
    for d in DIGITS:
        if keys:
            out[key_of_digit(d, len(keys))][1].append(d)
    return [(k, "/".join(ds)) for k, ds in out if ds]


def is_hash(stored: str) -> bool:
    return stored.startswith(PREFIX)


def make_hash(pin: str, keys: int, salt: bytes | None = None) -> str:
    """`scrypt$<buttons>$<salt>$<hash>` of the keyed PIN (base64), for the config's `pin`."""
    if not (pin.isdigit() and pin.isascii() and MIN_LEN <= len(pin) <= MAX_LEN):
        raise ValueError(f"a PIN is {MIN_LEN} to {MAX_LEN} digits")
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = _scrypt(keyed(pin, keys), salt)
    return f"{PREFIX}{keys}${_b64(salt)}${_b64(digest)}"


def hash_keys(stored: str) -> int | None:
    """The number of buttons a hash was made for (None: not a well-formed hash)."""
    parts = stored.split("$")
    if len(parts) != 4 or parts[0] != PREFIX[:-1] or not parts[1].isdigit():
        return None
    try:
        base64.b64decode(parts[2], validate=True)
        base64.b64decode(parts[3], validate=True)
    except ValueError:
        return None
    return int(parts[1])


def matches(stored: str, typed: str, keys: int) -> bool:
    """Whether the keyed digits `typed` are the PIN `stored` (plain or hashed)."""
    if not is_hash(stored):
        return hmac.compare_digest(keyed(stored, keys), typed)
    _, made_for, salt, digest = stored.split("$")
    if int(made_for) != keys:
        return False  # check-config refuses this before the daemon starts
    return hmac.compare_digest(_scrypt(typed, base64.b64decode(salt)), base64.b64decode(digest))


def who(pins: Sequence[tuple[str, str]], typed: str, keys: int) -> str | None:
    """The maker whose PIN was typed, if any. Every PIN is tried, so the time taken does not
    tell which maker came close."""
    found = None
    for maker, stored in pins:
        if matches(stored, typed, keys) and found is None:
            found = maker
    return found


def problems(pins: Sequence[tuple[str, str]], keys: int) -> list[str]:
    """What makes the config's PINs unusable on `keys` buttons: the same buttons for two
    makers, one maker's buttons beginning another's, a hash made for another machine."""
    out = []
    plain = [(m, keyed(p, keys)) for m, p in pins if not is_hash(p)]
    for maker, stored in pins:
        if is_hash(stored) and hash_keys(stored) != keys:
            out.append(f"makers: {maker}'s PIN hash was made for {hash_keys(stored)} buttons, "
                       f"this machine has {keys}: make it again with `vendd pin-hash`")
    for i, (a, ka) in enumerate(plain):
        for b, kb in plain[i + 1:]:
            if ka == kb:
                out.append(f"makers: {a} and {b} have PINs typed on the same buttons; "
                           f"give one of them another PIN")
            elif kb.startswith(ka) or ka.startswith(kb):
                short, long_ = (a, b) if len(ka) < len(kb) else (b, a)
                out.append(f"makers: {short}'s PIN begins {long_}'s; give one of them "
                           f"another PIN")
    for a, ka in plain:
        for b, stored in pins:
            if is_hash(stored) and hash_keys(stored) == keys and matches(stored, ka, keys):
                out.append(f"makers: {a} and {b} have the same PIN; give one of them "
                           f"another PIN")
    return out


def example_pins(pins: Sequence[tuple[str, str]]) -> list[str]:
    """The makers whose PIN is one of the example config's (public) PINs."""
    return [m for m, p in pins if not is_hash(p) and p in EXAMPLE_PINS]


def _scrypt(text: str, salt: bytes) -> bytes:
    return hashlib.scrypt(text.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                          dklen=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
