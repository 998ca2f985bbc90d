"""The bot's settings as one frozen value: a view of the validated `bot` and `webex` sections.

Values are checked once, by `core.config.load_settings`; this view only renames and adds the
bot's own constants (webhook path and name, history size). Tests build it directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import Any

from tokenbot.bot.router import AccessPolicy
from tokenbot.core.intake import Intake
from tokenbot.core.settings import Settings

__all__ = ["BotOptions"]


@dataclass(frozen=True, slots=True)
class BotOptions:
    """What the bot needs to know; defaults match config.yaml's.

    Attributes:
        api_base_url: Webex REST base URL, ending in `/v1/`.
        intake: `websocket`, `webhook` or `polling` (`auto` until `create_bot` resolves it).
        intake_reason: Why this intake (`core.intake.choose_intake`).
        public_url: The base URL Webex reaches us at; when set (webhook intake), our webhook is
            registered at start as `<public_url><webhook_path>`.
        webhook_secret: Secret the webhook is registered with and deliveries are checked with.
        prefix: What starts a command.
        plugins: Modules whose `register(router)` adds commands.
        policy: Who besides the user may run commands.
        open_to_everyone: Whether help, ping, whoami (commands open to everyone) answer anyone.
        workers: Threads processing messages.
        queue_size: Messages waiting for a worker before intake answers 503.
        poll_interval_seconds: Pause between two polling rounds.
        poll_rooms: How many recently active spaces a polling round looks at.
        poll_api_budget_per_minute: The most Webex calls polling may make in a minute.
        rate_window_seconds: Webex's rate window for the token (`bot.budget.WebexBudget`).
        max_body_bytes: The largest webhook body accepted (413 beyond).
        max_event_age_seconds: Deliveries whose message is older than this are ignored
            (replays); 0 turns the check off.
        webhook_path: Where the webhook endpoint is mounted.
        webhook_name: The name marking webhooks this bot owns.
        history_max: The most messages `history N` shows.
        u2c_url: Websocket: the service catalog naming the device service of the region.
        proxy_url: An http(s) proxy for REST and the websocket, or None.
        instance_group: Websocket: instances of one group share one device and one socket.
        listener_lease_seconds: Websocket: a standby takes the socket over within this.
        webex_scopes: The scopes requested at login (auto intake before anyone connected).
        sender_burst: Messages one sender (not the user) may send at once before silence.
        sender_per_minute: How fast that sender's allowance refills.
        space_burst: Messages everyone but the user may send at once in one space.
        space_per_minute: How fast a space's allowance refills.
        others_burst: Messages everyone but the user may send at once, in all spaces.
        others_per_minute: How fast that allowance refills.
        reminders_per_sender: Reminders one sender may have pending.
        file_max_bytes: The largest received file fetched (refused after `HEAD` beyond).
        file_types: Media types received files may have (`image/*` patterns); empty: any.
        file_fetch_budget_seconds: The longest a download waits out the malware scan (423).
        file_allow_unscannable: Whether files Webex could not scan (428) are fetched.
        card_input_max_bytes: The largest card submit (its inputs as JSON) accepted.
        late_command_seconds: A command the bot gets to later than this after it was sent
            (its Webex `created`) is not run; the sender is told to send it again. 0: no limit.
        reauth_waiting_max: The most messages and card presses kept while the identity needs
            re-login (answered once it works again).
    """

    api_base_url: str = "https://webexapis.com/v1/"
    intake: Intake = "polling"
    intake_reason: str = ""
    public_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    prefix: str = "/"
    plugins: tuple[str, ...] = ()
    policy: AccessPolicy = field(default_factory=AccessPolicy)
    open_to_everyone: bool = True
    workers: int = 4
    queue_size: int = 100
    poll_interval_seconds: float = 5.0
    poll_rooms: int = 20
    poll_api_budget_per_minute: int = 120
    rate_window_seconds: float = 60.0
    max_body_bytes: int = 256 * 1024
    max_event_age_seconds: float = 600.0
    webhook_path: str = "/webhooks/webex"
    webhook_name: str = "tokenbot"
    history_max: int = 50
    u2c_url: str = "https://u2c.wbx2.com/u2c/api/v1"
    proxy_url: str | None = None
    instance_group: str = "default"
    listener_lease_seconds: float = 30.0
    webex_scopes: tuple[str, ...] = ()
    sender_burst: float = 5
    sender_per_minute: float = 6.0
    space_burst: float = 20
    space_per_minute: float = 30.0
    others_burst: float = 40
    others_per_minute: float = 60.0
    reminders_per_sender: int = 5
    webhook_check_seconds: float = 180.0
    reconcile_interval_seconds: float = 600.0
    silence_misses: int = 2
    silence_grace_seconds: float = 120.0
    file_max_bytes: int = 10 * 1024 * 1024
    file_types: tuple[str, ...] = ()
    file_fetch_budget_seconds: float = 60.0
    file_allow_unscannable: bool = False
    card_input_max_bytes: int = 4096
    late_command_seconds: float = 3600.0
    reauth_waiting_max: int = 200

    @property
    def webhook_url(self) -> str | None:
        """Return where Webex should deliver, or None without a public URL."""
        if not self.public_url:
            return None
        return self.public_url.rstrip("/") + self.webhook_path

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> BotOptions:
        """Take the `bot` and `webex` sections of validated settings, as they are.

        `core.config` has checked every value (intake, the `/v1/` base URL, the webhook
        secret webhook intake needs, ...), so nothing is checked again here. `overrides`
        replaces fields, e.g. the bot-only `history_max`.
        """
        bot = settings.bot
        options = cls(
            api_base_url=settings.webex.api_base_url,
            intake=bot.intake,
            public_url=bot.public_url,
            webhook_secret=bot.webhook_secret.reveal() if bot.webhook_secret else None,
            prefix=bot.prefix,
            plugins=bot.plugins,
            policy=AccessPolicy.of(bot.allowed_emails, bot.allowed_domains, bot.allowed_spaces),
            open_to_everyone=bot.open_to_everyone,
            workers=bot.workers,
            queue_size=bot.queue_size,
            poll_interval_seconds=bot.poll_interval_seconds,
            poll_rooms=bot.poll_rooms,
            poll_api_budget_per_minute=bot.poll_api_budget_per_minute,
            rate_window_seconds=bot.rate_window_seconds,
            max_body_bytes=bot.max_body_bytes,
            max_event_age_seconds=bot.max_event_age_seconds,
            u2c_url=settings.webex.u2c_url,
            proxy_url=settings.webex.proxy_url,
            instance_group=bot.instance_group,
            listener_lease_seconds=bot.listener_lease_seconds,
            webex_scopes=tuple(settings.webex.scopes),
            sender_burst=bot.sender_burst,
            sender_per_minute=bot.sender_per_minute,
            space_burst=bot.space_burst,
            space_per_minute=bot.space_per_minute,
            others_burst=bot.others_burst,
            others_per_minute=bot.others_per_minute,
            reminders_per_sender=bot.reminders_per_sender,
            webhook_check_seconds=bot.webhook_check_seconds,
            reconcile_interval_seconds=bot.reconcile_interval_seconds,
            silence_misses=bot.silence_misses,
            silence_grace_seconds=bot.silence_grace_seconds,
            file_max_bytes=bot.file_max_bytes,
            file_types=bot.file_types,
            file_fetch_budget_seconds=bot.file_fetch_budget_seconds,
            file_allow_unscannable=bot.file_allow_unscannable,
            card_input_max_bytes=bot.card_input_max_bytes,
            late_command_seconds=bot.late_command_seconds,
            reauth_waiting_max=bot.reauth_waiting_max,
        )
        return replace(options, **overrides) if overrides else options
