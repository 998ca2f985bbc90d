"""The sandbox chat page: talk to the bot as a sandbox person."""

from __future__ import annotations

from flask import Blueprint
from flask import render_template

bp = Blueprint("chat", __name__, url_prefix="/_emulator")


@bp.get("/spaces")
def spaces() -> str:
    """Serve the chat page; its script polls the control API."""
    return render_template("chat.html")


@bp.get("/")
def home() -> str:
    """Serve the same page at the control root."""
    return render_template("chat.html")
