"""One module per command group; `tokenbot.cli` registers them."""
