"""The config file (see `models`); every public name is importable from `vendd.config`."""

from vendd.config.models import *  # noqa: F403
from vendd.config.models import __all__  # noqa: F401
