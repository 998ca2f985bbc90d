"""Is this message a command for us, and is it one of our own posts? Pure functions."""

from __future__ import annotations

from tokenbot.bot.identity import BotIdentity
from tokenbot.bot.message import Message
from tokenbot.bot.text import strip_leading_mention
from tokenbot.core.hashing import sha256_hex

__all__ = ["fingerprint", "recognize"]


def fingerprint(room_id: str, content: str) -> str:
    """Return the fingerprint of a post's content in a space (to spot our own posts)."""
    return sha256_hex(f"{room_id}\0{content.strip()}")


def recognize(
    message: Message, me: BotIdentity, *, is_owner: bool, prefix: str
) -> tuple[str, bool] | None:
    """Return (the command line without prefix or mention, whether the prefix was typed).

    None when the message is not addressed to the bot: the user's own messages count only with
    the prefix; others' with the prefix or, in group spaces, a leading mention of the user.
    """
    text = message.text.strip()
    mentioned = False
    if not is_owner and message.room_type == "group":
        text, mentioned = strip_leading_mention(text, message.html, me.person_id, me.names)
        text = text.strip()
    if text.startswith(prefix):
        return text[len(prefix) :], True
    if mentioned and text:
        return text, False
    return None
