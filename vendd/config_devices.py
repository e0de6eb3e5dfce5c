"""The config's device sections: coin acceptors (virtual, ccTalk, pulse), the dispenser, the
buttons, the display and the MDB bus with its peripherals."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from vendd.config_base import Model, Pin, Price, SlotId


class CoinConfig(Model):
    value: Price
    label: str
    position: int | None = Field(default=None, ge=1, le=16)  # ccTalk coin position
    pulses: int | None = Field(default=None, ge=1, le=50)  # pulse acceptor count


class VirtualCoinAcceptorConfig(Model):
    kind: Literal["virtual"]
    coins: list[CoinConfig]


class CctalkConfig(Model):
    kind: Literal["cctalk"]
    port: str
    address: int = Field(default=2, ge=1, le=255)
    baud: int = 9600
    checksum: Literal["simple", "crc16"] = "simple"
    echo: bool = True
    poll_interval_ms: int = Field(default=200, ge=20, lt=1000)
    reply_timeout_ms: int = Field(default=100, ge=10, le=2000)
    # A reply after reply_timeout_ms but within this much more is still taken (and counted as
    # late): nothing else was sent meanwhile, so it can only answer this request.
    late_reply_ms: int = Field(default=400, ge=0, le=5000)
    retries: int = Field(default=3, ge=0, le=10)
    coins: list[CoinConfig]


class PulseConfig(Model):
    kind: Literal["pulse"]
    pin: Pin
    # Required: a pulse acceptor has no buffer, and with power it takes coins whether or not
    # the daemon listens. The line is pulled to its inhibiting level by a resistor, so it
    # inhibits whenever the Pi does not drive it (boot, daemon stopped or killed).
    inhibit_pin: Pin
    inhibit_active_high: bool = True
    pulse_ms: int = Field(default=50, ge=10, le=200)
    idle_gap_ms: int = Field(default=200, ge=50, le=2000)
    coins: list[CoinConfig]


CoinAcceptorConfig = Annotated[
    VirtualCoinAcceptorConfig | CctalkConfig | PulseConfig, Field(discriminator="kind")
]


class DispenserTiming(Model):
    leave_home_timeout_s: float = Field(default=1.0, gt=0)
    home_timeout_s: float = Field(default=4.0, gt=0)
    drop_wait_s: float = Field(default=0.5, ge=0)
    turns: int = Field(default=2, ge=1, le=5)


class VirtualDispenserConfig(DispenserTiming):
    kind: Literal["virtual"]
    turn_time_s: float = Field(default=0.2, ge=0)


class GpioDispenserConfig(DispenserTiming):
    kind: Literal["gpio"]
    wiring: Literal["direct", "matrix"] = "direct"
    active_high: bool = True
    motors: dict[SlotId, Pin] = {}  # direct: one pin per slot
    rows: dict[str, Pin] = {}  # matrix: row letter -> pin
    columns: dict[str, Pin] = {}  # matrix: column number -> pin
    home_pins: dict[SlotId, Pin] = {}  # one home switch per motor
    home_pin: Pin | None = None  # or one shared home line
    drop_sensor_pin: Pin | None = None
    drop_sensor_active_low: bool = True
    # Shared home line (matrix): how long it may take to show the selected motor's switch.
    home_settle_s: float = Field(default=0.02, ge=0, le=0.5)


DispenserConfig = Annotated[
    VirtualDispenserConfig | GpioDispenserConfig, Field(discriminator="kind")
]


class ButtonsConfig(Model):
    kind: Literal["gpio", "virtual"] = "virtual"
    selection: dict[SlotId, Pin] = {}  # one button per slot
    rows: dict[str, Pin] = {}  # or a keypad matrix
    columns: dict[str, Pin] = {}
    cancel_pin: Pin | None = None
    service_key_pin: Pin | None = None
    debounce_ms: int = Field(default=30, ge=1, le=500)
    long_press_ms: int = Field(default=1500, ge=200, le=10000)
    scan_ms: int = Field(default=10, ge=1, le=100)  # keypad matrix: one full scan this often


class DisplayConfig(Model):
    kind: Literal["virtual", "console", "lcd"] = "virtual"
    cols: Literal[16, 20] = 16
    rows: Literal[2, 4] = 2
    i2c_port: int = 1
    i2c_address: int = 0x27


class MdbChangerConfig(Model):
    enabled: bool = True
    non_response_s: float = Field(default=2.0, gt=0, le=60)  # then offline (unsure: ~2 s)
    payout_timeout_s: float = Field(default=15.0, gt=0, le=120)
    # Largest change the tubes must be able to pay (every step of the smallest coin up to it),
    # else the display says "exact change only". Unset: the largest coin less the smallest.
    exact_change_limit: int | None = Field(default=None, ge=0)


class MdbBillValidatorConfig(Model):
    enabled: bool = True
    non_response_s: float = Field(default=5.0, gt=0, le=60)
    escrow_timeout_s: float = Field(default=20.0, gt=0, le=30)  # then the bill goes back


class MdbCashlessConfig(Model):
    enabled: bool = True
    address: Literal[16, 96] = 16  # reader #1 (0x10) or #2 (0x60)
    non_response_s: float | None = Field(default=None, gt=0, le=60)  # None: the reader's own


class MdbConfig(Model):
    """An MDB bus: `uart` (the Pi's PL011 ttyAMA0, mark/space parity with PARMRK), `bridge`
    (an ASCII adapter at 115200) or `sim` (the simulator's in-band framed pty)."""

    link: Literal["uart", "bridge", "sim"]
    port: str
    response_timeout_ms: int = Field(default=10, ge=5, le=500)  # MDB: first byte <= 5 ms
    retries: int = Field(default=2, ge=0, le=10)
    poll_interval_ms: int = Field(default=50, ge=1, le=1000)  # one round over every device
    bus_reset_ms: int = Field(default=100, ge=100, le=1000)
    bus_setup_ms: int = Field(default=200, ge=0, le=2000)
    changer: MdbChangerConfig | None = None
    bill_validator: MdbBillValidatorConfig | None = None
    cashless: MdbCashlessConfig | None = None
