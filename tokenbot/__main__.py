"""Allow `python -m tokenbot`."""

from __future__ import annotations

from tokenbot.cli import main

if __name__ == "__main__":
    main()
