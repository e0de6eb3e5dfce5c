"""vendd: the controller daemon of a community-owned vending machine."""

__version__ = "0.1.0"
