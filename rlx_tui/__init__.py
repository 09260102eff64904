"""rlx-tui: acquire Crypto Lake market data, validate every file, certify the data set."""

__version__ = "0.1.0"
