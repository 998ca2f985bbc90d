"""The chat side: SDK client on the live token, event intake, command router."""

from __future__ import annotations

from bot.args import Arg
from bot.client import WebexClient
from bot.context import CommandContext
from bot.factory import create_bot
from bot.message import Message
from bot.metrics import BotMetrics
from bot.options import BotOptions
from bot.polling import Poller
from bot.router import AccessPolicy
from bot.router import Command
from bot.router import Router
from bot.sdk import load_sdk
from bot.service import Bot
from bot.text import split_message
from bot.webhook import create_webhook_app
from bot.webhook import verify_signature
from bot.webhook import webhook_blueprint

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
