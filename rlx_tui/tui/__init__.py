"""The Textual dashboard (``rlx-tui`` without a sub-command). ``state`` and ``text`` do not import Textual."""
