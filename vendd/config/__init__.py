"""The config file: frozen pydantic models (`models`, device sections in `devices`, shared
field types in `base`), cross-field rules (`checks`) and loading with one-line errors
(`loading`). Every public name is importable from `vendd.config`."""

from vendd.config.base import Cents, Ident, Model, Pin, Price, SlotId
from vendd.config.checks import pin_table
from vendd.config.devices import (
    ButtonsConfig,
    CctalkConfig,
    CoinAcceptorConfig,
    CoinConfig,
    DispenserConfig,
    DispenserTiming,
    DisplayConfig,
    GpioDispenserConfig,
    MdbBillValidatorConfig,
    MdbCashlessConfig,
    MdbChangerConfig,
    MdbConfig,
    PulseConfig,
    VirtualCoinAcceptorConfig,
    VirtualDispenserConfig,
)
from vendd.config.loading import load_config
from vendd.config.models import (
    Config,
    LedgerConfig,
    MachineConfig,
    MakerConfig,
    MqttConfig,
    RequestsConfig,
    SalesConfig,
    ServiceConfig,
    SharesConfig,
    SlotConfig,
    TlsConfig,
)

__all__ = [
    "ButtonsConfig",
    "CctalkConfig",
    "Cents",
    "CoinAcceptorConfig",
    "CoinConfig",
    "Config",
    "DispenserConfig",
    "DispenserTiming",
    "DisplayConfig",
    "GpioDispenserConfig",
    "Ident",
    "LedgerConfig",
    "MachineConfig",
    "MakerConfig",
    "MdbBillValidatorConfig",
    "MdbCashlessConfig",
    "MdbChangerConfig",
    "MdbConfig",
    "Model",
    "MqttConfig",
    "Pin",
    "Price",
    "PulseConfig",
    "RequestsConfig",
    "SalesConfig",
    "ServiceConfig",
    "SharesConfig",
    "SlotConfig",
    "SlotId",
    "TlsConfig",
    "VirtualCoinAcceptorConfig",
    "VirtualDispenserConfig",
    "load_config",
    "pin_table",
]
