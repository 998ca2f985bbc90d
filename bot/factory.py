"""Build the bot from its parts: the one place that wires client, state, router and metrics."""

from __future__ import annotations

import dataclasses

from prometheus_client import CollectorRegistry

from tokenbot.bot.budget import WebexBudget
from tokenbot.bot.client import WebexClient
from tokenbot.bot.commands import register_builtins
from tokenbot.bot.identity import IdentityCache
from tokenbot.bot.metrics import BotMetrics
from tokenbot.bot.options import BotOptions
from tokenbot.bot.plugins import load_plugins
from tokenbot.bot.router import Router
from tokenbot.bot.sdk import Sdk
from tokenbot.bot.service import Bot
from tokenbot.bot.webhook_owners import WebhookJanitor
from tokenbot.core.botstate import BotStateStore
from tokenbot.core.clock import Clock
from tokenbot.core.db import Database
from tokenbot.core.intake import choose_intake
from tokenbot.core.listener_lease import NamedLeases
from tokenbot.core.reauth_waiting import WaitingCommands
from tokenbot.core.store import TokenStore
from tokenbot.core.token_service import TokenService

__all__ = ["create_bot"]


def create_bot(
    *,
    options: BotOptions,
    tokens: TokenService,
    store: TokenStore,
    database: Database,
    clock: Clock,
    registry: CollectorRegistry | None = None,
    sdk: Sdk | None = None,
    timeout: float = 30.0,
    max_rate_limit_wait: float = 60.0,
) -> Bot:
    """Return a bot (not started) on the bot identity of `store`, with built-ins and plugins.

    Args:
        options: The bot's settings (`BotOptions.from_settings(settings)`).
        tokens: The token service: the bot identity's access token, refreshed when due.
        store: The token store: the bot identity comes from it.
        database: The shared database (bot state lives there too).
        clock: The clock.
        registry: Where the metrics register (the panel's `/metrics` registry).
        sdk: Force an SDK (`bot.sdk.load_sdk(...)`); by default the installed one.
        timeout: Seconds for one HTTP request to Webex.
        max_rate_limit_wait: The longest one call waits in total on 429 before giving up.
    """
    options = resolve_intake(options, store)
    identity = IdentityCache(store)
    client = WebexClient(
        tokens=tokens,
        account_id=identity.account_id,
        base_url=options.api_base_url,
        sdk=sdk,
        timeout=timeout,
        max_rate_limit_wait=max_rate_limit_wait,
        proxy_url=options.proxy_url,
        budget=WebexBudget(window_seconds=options.rate_window_seconds),
    )
    router = Router(
        prefix=options.prefix, policy=options.policy, open_to_everyone=options.open_to_everyone
    )
    register_builtins(router)
    load_plugins(router, options.plugins)
    janitor = WebhookJanitor(
        options=options,
        tokens=tokens,
        sdk=client.sdk,
        timeout=timeout,
        max_rate_limit_wait=max_rate_limit_wait,
    )
    bot = Bot(
        options=options,
        client=client,
        identity=identity,
        state=BotStateStore(database, clock),
        router=router,
        metrics=BotMetrics(registry),
        clock=clock,
        janitor=janitor,
        accounts=store,
        waiting=WaitingCommands(database, clock, limit=options.reauth_waiting_max),
    )
    if options.intake == "websocket":
        from tokenbot.bot.websocket_intake import WebsocketIntake

        bot.websocket = WebsocketIntake(bot, leases=NamedLeases(database, clock))
    return bot


def resolve_intake(options: BotOptions, store: TokenStore) -> BotOptions:
    """Turn `auto` into the intake to run, from the identity's granted scopes.

    Before anyone connected an account, the scopes the login will request decide.
    """
    view = store.bot_identity()
    if view is not None and getattr(view, "scopes", None):
        scopes, source = tuple(view.scopes), "the identity's grant"
    else:
        scopes, source = options.webex_scopes, "webex.scopes"
    choice = choose_intake(
        options.intake,
        scopes=scopes,
        scopes_from=source,
        public_url=options.public_url,
        has_webhook_secret=bool(options.webhook_secret),
    )
    return dataclasses.replace(options, intake=choice.intake, intake_reason=choice.reason)
