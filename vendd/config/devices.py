"""The config's device sections: coin acceptors (virtual, ccTalk, pulse), the dispenser, the
buttons, the display and the MDB bus with its peripherals."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from vendd.config.base import (
    COLUMN_KEY,
    ROW_KEY,
    Cents,
    DevicePath,
    Flag,
    Label,
    Model,
    Pin,
    Price,
    Seconds,
    SlotId,
    seconds,
)

# The keys of a matrix: rows are letters, columns numbers; together they name a slot (A1).
RowKey = Annotated[str, Field(pattern=ROW_KEY)]
ColumnKey = Annotated[str, Field(pattern=COLUMN_KEY)]
# The longest a stopping daemon may wait for a turning motor: the unit's TimeoutStopSec=45s
# must leave time to close the ledger after it.
VEND_GRACE_MAX_S = 30.0


class CoinConfig(Model):
    value: Price
    label: Label
    position: int | None = Field(default=None, ge=1, le=16)  # ccTalk coin position
    pulses: int | None = Field(default=None, ge=1, le=50)  # pulse acceptor count


class VirtualCoinAcceptorConfig(Model):
    kind: Literal["virtual"]
    coins: list[CoinConfig]


class CctalkConfig(Model):
    kind: Literal["cctalk"]
    port: DevicePath  # /dev/ttyUSB0, /dev/serial/by-id/..., /dev/serial0
    address: int = Field(default=2, ge=1, le=255)
    baud: Literal[4800, 9600, 19200, 38400, 57600, 115200] = 9600
    checksum: Literal["simple", "crc16"] = "simple"
    echo: Flag = True
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
    inhibit_active_high: Flag = True
    pulse_ms: int = Field(default=50, ge=10, le=200)
    idle_gap_ms: int = Field(default=200, ge=50, le=2000)
    coins: list[CoinConfig]


CoinAcceptorConfig = Annotated[
    VirtualCoinAcceptorConfig | CctalkConfig | PulseConfig, Field(discriminator="kind")
]


class DispenserTiming(Model):
    leave_home_timeout_s: Seconds = seconds(1.0, most=5)
    home_timeout_s: Seconds = seconds(4.0, most=15)  # a jammed motor stays on this long
    drop_wait_s: Seconds = seconds(0.5, most=5, zero=True)
    turns: int = Field(default=2, ge=1, le=5)

    @model_validator(mode="after")
    def _grace(self) -> DispenserTiming:
        worst = self.turns * (self.leave_home_timeout_s + self.home_timeout_s + self.drop_wait_s)
        if worst > VEND_GRACE_MAX_S:
            raise ValueError(
                f"turns x (leave_home_timeout_s + home_timeout_s + drop_wait_s) is {worst:g} s, "
                f"at most {VEND_GRACE_MAX_S:g} s: a stopping daemon waits that long for a motor")
        return self


class VirtualDispenserConfig(DispenserTiming):
    kind: Literal["virtual"]
    # How long a simulated turn takes; tests use a turn far longer than any timeout.
    turn_time_s: Seconds = seconds(0.2, most=600, zero=True)


class GpioDispenserConfig(DispenserTiming):
    kind: Literal["gpio"]
    wiring: Literal["direct", "matrix"] = "direct"
    active_high: Flag = True
    motors: dict[SlotId, Pin] = {}  # direct: one pin per slot
    rows: dict[RowKey, Pin] = {}  # matrix: row letter -> pin
    columns: dict[ColumnKey, Pin] = {}  # matrix: column number -> pin
    home_pins: dict[SlotId, Pin] = {}  # one home switch per motor
    home_pin: Pin | None = None  # or one shared home line
    drop_sensor_pin: Pin | None = None
    drop_sensor_active_low: Flag = True
    # Shared home line (matrix): how long it may take to show the selected motor's switch.
    home_settle_s: Seconds = seconds(0.02, most=0.5, zero=True)

    def motor_slots(self) -> list[str]:
        """Every slot the wiring can turn, in config order."""
        if self.wiring == "matrix":
            return [f"{r}{c}" for r in self.rows for c in self.columns]
        return list(self.motors)

    @model_validator(mode="after")
    def _wired(self) -> GpioDispenserConfig:
        # The rules the driver relies on, here so `check-config` refuses what `run` would.
        if self.wiring == "matrix" and not (self.rows and self.columns):
            raise ValueError("matrix wiring needs rows and columns")
        if self.wiring == "direct" and not self.motors:
            raise ValueError("direct wiring needs motors (one pin per slot)")
        missing = [s for s in self.motor_slots() if s not in self.home_pins]
        if missing and self.home_pin is None:
            raise ValueError(f"no home switch for {', '.join(missing)} (set home_pins for each "
                             "motor or one shared home_pin)")
        return self


DispenserConfig = Annotated[
    VirtualDispenserConfig | GpioDispenserConfig, Field(discriminator="kind")
]


class ButtonsConfig(Model):
    kind: Literal["gpio", "virtual"] = "virtual"
    selection: dict[SlotId, Pin] = {}  # one button per slot
    rows: dict[RowKey, Pin] = {}  # or a keypad matrix
    columns: dict[ColumnKey, Pin] = {}
    cancel_pin: Pin | None = None
    service_key_pin: Pin | None = None
    debounce_ms: int = Field(default=30, ge=1, le=500)
    long_press_ms: int = Field(default=1500, ge=200, le=10000)
    scan_ms: int = Field(default=10, ge=1, le=100)  # keypad matrix: one full scan this often

    @model_validator(mode="after")
    def _keys(self) -> ButtonsConfig:
        if bool(self.rows) != bool(self.columns):
            raise ValueError("a keypad matrix needs both rows and columns")
        if self.kind == "gpio" and not (self.selection or self.rows):
            raise ValueError("gpio buttons need selection pins or a keypad matrix (rows and "
                             "columns)")
        return self


class DisplayConfig(Model):
    kind: Literal["virtual", "console", "lcd"] = "virtual"
    cols: Literal[16, 20] = 16
    rows: Literal[2, 4] = 2
    i2c_port: int = Field(default=1, ge=0, le=22)  # /dev/i2c-N
    i2c_address: int = Field(default=0x27, ge=0x03, le=0x77)  # 7-bit, 0x27 or 0x3f usually


class MdbChangerConfig(Model):
    enabled: Flag = True
    non_response_s: float = Field(default=2.0, gt=0, le=60)  # then offline (unsure: ~2 s)
    payout_timeout_s: float = Field(default=15.0, gt=0, le=120)
    # Largest change the tubes must be able to pay (every step of the smallest coin up to it),
    # else the display says "exact change only". Unset: the largest coin less the smallest.
    exact_change_limit: Cents | None = Field(default=None, ge=0)


class MdbBillValidatorConfig(Model):
    enabled: Flag = True
    non_response_s: float = Field(default=5.0, gt=0, le=60)
    escrow_timeout_s: float = Field(default=20.0, gt=0, le=30)  # then the bill goes back


class MdbCashlessConfig(Model):
    enabled: Flag = True
    address: Literal[16, 96] = 16  # reader #1 (0x10) or #2 (0x60)
    non_response_s: float | None = Field(default=None, gt=0, le=60)  # None: the reader's own


class MdbConfig(Model):
    """An MDB bus: `uart` (the Pi's PL011 ttyAMA0, mark/space parity with PARMRK), `bridge`
    (an ASCII adapter at 115200) or `sim` (the simulator's in-band framed pty)."""

    link: Literal["uart", "bridge", "sim"]
    port: DevicePath  # /dev/ttyUSB0, /dev/serial/by-id/..., /dev/serial0
    response_timeout_ms: int = Field(default=10, ge=5, le=500)  # MDB: first byte <= 5 ms
    retries: int = Field(default=2, ge=0, le=10)
    poll_interval_ms: int = Field(default=50, ge=1, le=1000)  # one round over every device
    bus_reset_ms: int = Field(default=100, ge=100, le=1000)
    bus_setup_ms: int = Field(default=200, ge=0, le=2000)
    changer: MdbChangerConfig | None = None
    bill_validator: MdbBillValidatorConfig | None = None
    cashless: MdbCashlessConfig | None = None
