"""Broken config files as an installer writes them: each is the example with one mistake, and
the words its one error line must contain (the option, named by slot or maker id).

A case is `(name, edit, expected)`: `edit(text, folder)` returns the broken file's text (it may
write files the config names into `folder`); `expected` is found in the one line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from support import EXAMPLE_CONFIG

EXAMPLE = EXAMPLE_CONFIG.read_text(encoding="utf-8")
SECRET = "s3cret-Hunter2-do-not-show"
LEDGER = 'path = "/var/lib/vendd/vendd.db"'

Edit = Callable[[str, Path], str]


@dataclass(frozen=True)
class Case:
    name: str
    edit: Edit
    expected: str

    def text(self, folder: Path) -> str:
        # The ledger in the test's folder: a run-time check would name /var/lib/vendd too.
        return self.edit(EXAMPLE.replace(LEDGER, f'path = "{folder / "vendd.db"}"'), folder)


def swap(old: str, new: str) -> Edit:
    """Replace the first line starting with `old` (its comment goes too) by `new`."""
    def edit(text: str, folder: Path) -> str:
        lines = text.splitlines()
        index = next(i for i, line in enumerate(lines) if line.startswith(old))
        lines[index] = new
        return "\n".join(lines) + "\n"
    return edit


def after(header: str, added: str) -> Edit:
    """Add lines right after a table header (the first one, e.g. `[mqtt]`)."""
    def edit(text: str, folder: Path) -> str:
        assert header + "\n" in text, header
        return text.replace(header + "\n", f"{header}\n{added}\n", 1)
    return edit


def append(added: str) -> Edit:
    return lambda text, folder: text + "\n" + added + "\n"


def with_file(name: str, content: str, mode: int, edit: Callable[[str, Path, Path], str]) -> Edit:
    """Write `content` to folder/name with `mode`, then edit the text knowing its path."""
    def wrapped(text: str, folder: Path) -> str:
        path = folder / name
        path.write_text(content, encoding="utf-8")
        path.chmod(mode)
        return edit(text, folder, path)
    return wrapped


def password_file(mode: int, content: str = SECRET + "\n") -> Edit:
    return with_file("mqtt-password", content, mode, lambda text, folder, path: after(
        "[mqtt]", f'username = "quito-01"\npassword_file = "{path}"')(text, folder))


def tls(**files: str) -> Edit:
    """[mqtt.tls] naming files in the folder; a value of "" names a file that is not there."""
    def edit(text: str, folder: Path) -> str:
        lines = []
        for option, content in files.items():
            path = folder / f"{option}.pem"
            if content:
                path.write_text(content)
                path.chmod(0o600 if option != "key_file_readable" else 0o644)
            lines.append(f'{option.removesuffix("_readable")} = "{path}"')
        return after("[mqtt]", "")(text, folder).replace(
            "[mqtt.requests]", "[mqtt.tls]\n" + "\n".join(lines) + "\n\n[mqtt.requests]", 1)
    return edit


MDB = '[mdb]\nlink = "uart"\nport = "/dev/serial0"\n'
NOT_PEM = "this is not a certificate\n"

CASES: list[Case] = [
    # [machine]
    Case("machine id with a space", swap('id = "quito-01"', 'id = "Cuenca 02"'),
         "machine.id: must be lower-case letters a-z, digits, '-' or '_'"),
    Case("machine id in capitals", swap('id = "quito-01"', 'id = "Quito"'), "machine.id:"),
    Case("machine id too long", swap('id = "quito-01"', f'id = "{"q" * 40}"'),
         "machine.id: must be lower-case"),
    Case("machine id not text", swap('id = "quito-01"', "id = 7"),
         "machine.id: must be text in quotes, got 7"),
    Case("unknown currency", swap("currency =", 'currency = "XYZ"'),
         "machine.currency: unknown currency 'XYZ'"),
    Case("too many decimals", swap("decimals =", "decimals = 5"),
         "machine.decimals: must be at most 3, got 5"),
    Case("unknown language", swap("language =", 'language = "fr"'),
         "machine.language: must be 'es' or 'en', got 'fr'"),
    Case("unknown time zone", swap("timezone =", 'timezone = "Mars/Olympus"'),
         "machine.timezone: unknown time zone"),
    Case("empty machine name", swap('name = "Costureras', 'name = ""'),
         "machine.name: must not be empty"),
    Case("a name of two lines", swap('name = "Costureras', 'name = "Costureras\\ndel MAAC"'),
         "machine.name: must be one line of text"),
    Case("unknown machine option", after("[machine]", 'colour = "red"'),
         "machine.colour: unknown option"),
    # [[makers]]
    Case("maker id with an accent", swap('id = "lucia"', 'id = "lucía"'),
         "makers[lucía].id: must be lower-case letters a-z"),
    Case("duplicate maker id", append('[[makers]]\nid = "rosa"\nname = "Otra Rosa"'),
         "makers[rosa].id: duplicate maker id 'rosa'"),
    Case("maker name missing", swap('name = "Carmen', ""),
         "makers[carmen].name: required option is missing"),
    Case("maker option mistyped", swap('name = "Lucía', 'nmae = "Lucía Guamán"'),
         "makers[lucia].nmae: unknown option (did you mean name?)"),
    # [shares]
    Case("shares over 100", swap("museum =", "museum = 15"), "shares: shares add up to 105"),
    Case("a negative share", swap("maker = 70", "maker = -5"),
         "shares.maker: must be at least 0, got -5"),
    # [[slots]]
    Case("price zero", swap("price = 350", "price = 0"),
         "slots[A1].price: a price must be more than zero"),
    Case("price negative", swap("price = 800", "price = -5"),
         "slots[A2].price: a price must be more than zero"),
    Case("price as text", swap("price = 150", 'price = "1.50"'),
         "slots[A3].price: must be whole cents (350 means 3.50), got '1.50'"),
    Case("price with a point", swap("price = 800", "price = 8.5"),
         "slots[A2].price: must be whole cents"),
    Case("price above max_credit", swap("price = 350", "price = 2500"),
         "slots[A1].price: 2500 is more than sales.max_credit (2000)"),
    Case("price beyond int64", swap("price = 350", "price = 9223372036854775807"),
         "slots[A1].price: 9223372036854775807 is more than sales.max_credit"),
    Case("price beyond any integer", swap("price = 350", "price = 99999999999999999999"),
         "slots[A1].price: must be at most 9223372036854775807"),
    Case("capacity zero", swap("capacity = 8", "capacity = 0"),
         "slots[A1].capacity: must be more than 0, got 0"),
    Case("capacity too large", swap("capacity = 8", "capacity = 120"),
         "slots[A1].capacity: must be at most 99, got 120"),
    Case("capacity with a point", swap("capacity = 10", "capacity = 9.5"),
         "slots[A3].capacity: must be a whole number, got 9.5"),
    Case("capacity mistyped", swap("capacity = 8", "capcity = 8"),
         "slots[A1].capcity: unknown option (did you mean capacity?)"),
    Case("slot id in lower case", swap('id = "A3"', 'id = "a3"'),
         "slots[a3].id: must be a capital row letter and a column number"),
    Case("duplicate slot id", swap('id = "B4"', 'id = "A1"'),
         "slots[A1].id: duplicate slot id 'A1'"),
    Case("slot without a motor", swap('id = "B4"', 'id = "C1"'),
         "slots[C1].id: no motor for C1 in dispenser.rows x columns"),
    Case("empty product", swap('product = "Monedero', 'product = ""'),
         "slots[A1].product: must not be empty"),
    Case("product too long", swap('product = "Monedero', f'product = "{"x" * 50}"'),
         "slots[A1].product: must be at most 40 characters long"),
    Case("unknown maker of a slot", swap('maker = "carmen"', 'maker = "carmn"'),
         "slots[A2].maker: unknown maker 'carmn' (did you mean 'carmen'?)"),
    # [sales]
    Case("max_credit zero", swap("max_credit =", "max_credit = 0"),
         "sales.max_credit: a price must be more than zero"),
    Case("max_credit as a float", swap("max_credit =", "max_credit = 1e3"),
         "sales.max_credit: must be whole cents"),
    Case("selection timeout zero", swap("selection_timeout_s =", "selection_timeout_s = 0"),
         "sales.selection_timeout_s: must be more than 0"),
    Case("selection timeout huge", swap("selection_timeout_s =", "selection_timeout_s = 1000"),
         "sales.selection_timeout_s: must be at most 60, got 1000"),
    Case("unclaimed credit nan", swap("unclaimed_credit_s =", "unclaimed_credit_s = nan"),
         "sales.unclaimed_credit_s: must be at most"),
    # [coin_acceptor]
    Case("unknown acceptor kind", swap('kind = "cctalk"', 'kind = "ccTalk"'),
         "coin_acceptor.kind: must be one of 'virtual', 'cctalk', 'pulse', got 'ccTalk'"),
    Case("ccTalk address zero", swap("address = 2", "address = 0"),
         "coin_acceptor.address: must be at least 1, got 0"),
    Case("odd baud rate", swap("baud =", "baud = 1234"), "coin_acceptor.baud: must be 4800"),
    Case("poll interval too long", swap("poll_interval_ms =", "poll_interval_ms = 1000"),
         "coin_acceptor.poll_interval_ms: must be less than 1000"),
    Case("echo as yes", swap("echo =", 'echo = "yes"'),
         "coin_acceptor.echo: must be true or false (no quotes), got 'yes'"),
    Case("unknown checksum", swap("checksum =", 'checksum = "crc8"'),
         "coin_acceptor.checksum: must be 'simple' or 'crc16', got 'crc8'"),
    Case("ccTalk port missing", swap("port = \"/dev/serial/by-id", ""),
         "coin_acceptor.port: required option is missing"),
    Case("acceptor option mistyped", after("[coin_acceptor]", "adress = 3"),
         "coin_acceptor.adress: unknown option (did you mean address?)"),
    Case("duplicate coin position", swap("position = 2", "position = 1"),
         "coin_acceptor.coins[#2].position: 1 is used by another coin"),
    Case("coin position beyond 16", swap("position = 2", "position = 17"),
         "coin_acceptor.coins[#2].position: must be at most 16, got 17"),
    Case("coin worth nothing", swap("value = 5 ", "value = 0"),
         "coin_acceptor.coins[#1].value: a price must be more than zero"),
    Case("coin above max_credit", swap("value = 100", "value = 5000"),
         "coin_acceptor.coins[#5].value: 5000 is more than sales.max_credit"),
    Case("coin label missing", swap('label = "10c"', ""),
         "coin_acceptor.coins[#2].label: required option is missing"),
    # [dispenser]
    Case("home timeout of an hour", swap("home_timeout_s =", "home_timeout_s = 4000"),
         "dispenser.home_timeout_s: must be at most 15, got 4000"),
    Case("home timeout zero", swap("home_timeout_s =", "home_timeout_s = 0"),
         "dispenser.home_timeout_s: must be more than 0"),
    Case("too many turns", swap("turns =", "turns = 9"), "dispenser.turns: must be at most 5"),
    Case("a vend longer than a stop waits", swap("home_timeout_s =", "home_timeout_s = 14.5"),
         "dispenser: turns x (leave_home_timeout_s + home_timeout_s + drop_wait_s) is 32 s"),
    Case("matrix without home switch", swap("home_pin =", ""),
         "dispenser: no home switch for A1, A2"),
    Case("pin off the header", swap("home_pin =", "home_pin = 30"),
         "dispenser.home_pin: must be at most 27, got 30"),
    Case("pin used twice", swap("home_pin =", "home_pin = 5"),
         "dispenser.home_pin: GPIO 5 is already used by dispenser.rows.A"),
    Case("pin of the LCD's I2C", swap("home_pin =", "home_pin = 2"),
         "dispenser.home_pin: GPIO 2 is already used by the LCD's I2C SDA"),
    Case("unknown wiring", swap("wiring =", 'wiring = "star"'),
         "dispenser.wiring: must be 'direct' or 'matrix', got 'star'"),
    Case("row key in lower case", swap("rows = { A = 5", "rows = { a = 5, B = 6 }"),
         "dispenser.rows.a: must be a capital letter"),
    Case("active_high as 1", swap("active_high =", "active_high = 1"),
         "dispenser.active_high: must be true or false (no quotes), got 1"),
    Case("negative pin", swap("drop_sensor_pin =", "drop_sensor_pin = -1"),
         "dispenser.drop_sensor_pin: must be at least 0, got -1"),
    # [buttons]
    Case("debounce zero", swap("debounce_ms =", "debounce_ms = 0"),
         "buttons.debounce_ms: must be at least 1, got 0"),
    Case("button on a motor's pin", swap("cancel_pin =", "cancel_pin = 13"),
         "buttons.cancel_pin: GPIO 13 is already used by dispenser.columns.1"),
    Case("keypad without rows", swap("rows = { A = 17", ""),
         "buttons: a keypad matrix needs both rows and columns"),
    # [display]
    Case("17 columns", swap("cols =", "cols = 17"), "display.cols: must be 16 or 20, got 17"),
    Case("3 rows", swap("rows = 2", "rows = 3"), "display.rows: must be 2 or 4, got 3"),
    Case("I2C address off the bus", swap("i2c_address =", "i2c_address = 0x99"),
         "display.i2c_address: must be at most 119, got 153"),
    Case("unknown display", swap('kind = "lcd"', 'kind = "oled"'),
         "display.kind: must be 'virtual', 'console' or 'lcd', got 'oled'"),
    # [service]
    Case("no PIN tries", swap("pin_tries =", "pin_tries = 0"),
         "service.pin_tries: must be at least 1, got 0"),
    Case("price step above max_credit", swap("price_step =", "price_step = 5000"),
         "service.price_step: 5000 is more than sales.max_credit"),
    Case("menu timeout of a day", swap("timeout_s =", "timeout_s = 99999"),
         "service.timeout_s: must be at most 3600"),
    # [mqtt]
    Case("port zero", swap("port = 1883", "port = 0"), "mqtt.port: must be at least 1, got 0"),
    Case("port too high", swap("port = 1883", "port = 70000"),
         "mqtt.port: must be at most 65535, got 70000"),
    Case("port as text", swap("port = 1883", 'port = "abc"'),
         "mqtt.port: must be a whole number, got 'abc'"),
    Case("enabled as yes", swap("enabled = true", 'enabled = "yes"'),
         "mqtt.enabled: must be true or false (no quotes), got 'yes'"),
    Case("set_price as 1", swap("set_price =", "set_price = 1"),
         "mqtt.requests.set_price: must be true or false (no quotes), got 1"),
    Case("request mistyped", swap("set_price =", "set_prices = true"),
         "mqtt.requests.set_prices: unknown option (did you mean set_price?)"),
    Case("wildcard in the prefix", swap("prefix =", 'prefix = "a/#"'),
         "mqtt.prefix: must be an MQTT topic"),
    Case("wildcard in the discovery prefix", swap("discovery_prefix =",
                                                  'discovery_prefix = "home+"'),
         "mqtt.discovery_prefix: must be an MQTT topic"),
    Case("keepalive too short", swap("keepalive_s =", "keepalive_s = 1"),
         "mqtt.keepalive_s: must be at least 5, got 1"),
    Case("session expiry negative", swap("session_expiry_s =", "session_expiry_s = -1"),
         "mqtt.session_expiry_s: must be at least 0"),
    Case("host with a space", swap('host = "localhost"', 'host = "my broker"'),
         "mqtt.host: must be a host name or IP address"),
    Case("client id with a space", after("[mqtt]", 'client_id = "a b"'), "mqtt.client_id:"),
    Case("password in the config text", after("[mqtt]", f'password = "{SECRET}"'),
         "mqtt.password: a password never goes in the config file"),
    Case("password file missing", after("[mqtt]", 'username = "quito-01"\n'
                                        'password_file = "/nonexistent/mqtt-password"'),
         "mqtt.password_file: no such file /nonexistent/mqtt-password"),
    Case("password file others can write", password_file(0o666),
         "mqtt.password_file: "),
    Case("password file others can read", password_file(0o644),
         "can be read by every user"),
    Case("password file empty", password_file(0o600, content=""),
         "mqtt.password_file: "),
    Case("password file without username",
         with_file("pw", SECRET, 0o600, lambda text, folder, path: after(
             "[mqtt]", f'password_file = "{path}"')(text, folder)),
         "mqtt: password_file is set but username is not"),
    Case("password given two ways", after("[mqtt]", 'username = "u"\npassword_file = "/x"\n'
                                          'password_credential = "mqtt-password"'),
         "mqtt: password_file and password_credential: give the password one way only"),
    Case("credential name with a slash", after("[mqtt]", 'username = "u"\n'
                                               'password_credential = "../pw"'),
         "mqtt.password_credential: must be lower-case letters"),
    Case("TLS CA file missing", tls(ca_file=""), "mqtt.tls.ca_file: no such file"),
    Case("TLS CA file not PEM", tls(ca_file=NOT_PEM),
         "mqtt.tls.ca_file: ") ,
    Case("TLS certificate without key", tls(ca_file=NOT_PEM, cert_file=NOT_PEM),
         "mqtt.tls: cert_file and key_file go together"),
    Case("TLS key readable by all", tls(ca_file=NOT_PEM, cert_file=NOT_PEM,
                                        key_file_readable=NOT_PEM),
         "mqtt.tls.key_file: "),
    # [ledger]
    Case("ledger path is a folder", lambda text, folder: swap(
        "path =", f'path = "{folder}"')(text, folder), "ledger.path: "),
    Case("ledger folder is a file", with_file("plain", "x", 0o644, lambda text, folder, path: swap(
        "path =", f'path = "{path}/vendd.db"')(text, folder)), "ledger.path: "),
    # [mdb]
    Case("unknown MDB link", append('[mdb]\nlink = "usb"\nport = "/dev/ttyUSB0"'),
         "mdb.link: must be 'uart', 'bridge' or 'sim', got 'usb'"),
    Case("MDB without a port", append('[mdb]\nlink = "uart"'),
         "mdb.port: required option is missing"),
    Case("change limit above max_credit", append(MDB + "[mdb.changer]\n"
                                                 "exact_change_limit = 99999"),
         "mdb.changer.exact_change_limit: 99999 is more than sales.max_credit"),
    Case("card reader address", append(MDB + "[mdb.cashless]\naddress = 17"),
         "mdb.cashless.address: must be 16 or 96, got 17"),
    Case("a button on the MDB UART", lambda text, folder: append(MDB)(
        swap("cancel_pin =", "cancel_pin = 14")(text, folder), folder),
         "buttons.cancel_pin: GPIO 14 is already used by the MDB UART's TXD"),
    Case("escrow too long", append(MDB + "[mdb.bill_validator]\nescrow_timeout_s = 600"),
         "mdb.bill_validator.escrow_timeout_s: must be at most 30"),
    # The file itself
    Case("unclosed string", swap('name = "Rosa', 'name = "Rosa Quishpe'), "invalid TOML"),
    Case("nesting 5000 deep", append("x = " + "[" * 5000 + "]" * 5000),
         "values nested too deeply"),
    Case("nesting 12 tables deep", append("[" + ".".join(["t"] * 12) + "]\nk = 1"),
         "values nested more than 8 levels deep"),
    Case("two megabytes", append("# " + "x" * (2 << 20)), "too large for a config file"),
    Case("unknown section", append("[extras]\nx = 1"), "extras: unknown option"),
    Case("section mistyped", lambda text, folder: text.replace("[mqtt]\n", "[mqt]\n", 1).replace(
        "[mqtt.requests]", "[mqt.requests]", 1), "mqt: unknown option (did you mean mqtt?)"),
    Case("machine section mistyped", lambda text, folder: text.replace(
        "[machine]", "[machin]", 1), "machin: unknown option (did you mean machine?)"),
]
