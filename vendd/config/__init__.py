"""The config file: frozen pydantic models (`models`, device sections in `devices`, shared
field types in `base`), cross-field rules (`checks`) and loading with one-line errors
(`loading`). Every public name is importable from `vendd.config`."""

from vendd.config.base import Cents, Ident, Model, Pin, Price, SlotId
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
from vendd.config.files import check_files, on_raspberry_pi, password_of, tls_context
from vendd.config.loading import checked_config, load_config
from vendd.config.models import (
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
from vendd.config.root import Config, pin_table

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
    "check_files",
    "checked_config",
    "load_config",
    "on_raspberry_pi",
    "password_of",
    "pin_table",
    "tls_context",
]
