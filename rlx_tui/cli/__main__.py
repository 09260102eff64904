"""``python -m rlx_tui.cli``: the console script."""

from rlx_tui.cli.program import entry

if __name__ == "__main__":
    entry()
