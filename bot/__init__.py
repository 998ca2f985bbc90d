"""The chat side: SDK client on the live token, event intake, command router."""

from __future__ import annotations

from tokenbot.bot.args import Arg
from tokenbot.bot.client import WebexClient
from tokenbot.bot.command_context import CommandContext
from tokenbot.bot.factory import create_bot
from tokenbot.bot.message import Message
from tokenbot.bot.metrics import BotMetrics
from tokenbot.bot.options import BotOptions
from tokenbot.bot.polling import Poller
from tokenbot.bot.router import AccessPolicy
from tokenbot.bot.router import Command
from tokenbot.bot.router import Router
from tokenbot.bot.sdk import load_sdk
from tokenbot.bot.service import Bot
from tokenbot.bot.text import split_message
from tokenbot.bot.webhook import create_webhook_app
from tokenbot.bot.webhook import verify_signature
from tokenbot.bot.webhook import webhook_blueprint

__all__ = [
    "AccessPolicy",
    "Arg",
    "Bot",
    "BotMetrics",
    "BotOptions",
    "Command",
    "CommandContext",
    "Message",
    "Poller",
    "Router",
    "WebexClient",
    "create_bot",
    "create_webhook_app",
    "load_sdk",
    "split_message",
    "verify_signature",
    "webhook_blueprint",
]
