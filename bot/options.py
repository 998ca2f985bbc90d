"""The bot's settings as one frozen value, read from `core.config`'s `bot` section."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from tokenbot.bot.router import AccessPolicy
from tokenbot.core.errors import ConfigError

__all__ = ["BotOptions"]


@dataclass(frozen=True, slots=True)
class BotOptions:
    """What the bot needs to know; defaults match config.yaml's.

    Attributes:
        api_base_url: Webex REST base URL, ending in `/v1/`.
        intake: `webhook` or `polling`.
        public_url: The base URL Webex reaches us at; when set (webhook intake), our webhook is
            registered at start as `<public_url><webhook_path>`.
        webhook_secret: Secret the webhook is registered with and deliveries are checked with.
        prefix: What starts a command.
        plugins: Modules whose `register(router)` adds commands.
        policy: Who besides the user may run commands.
        workers: Threads processing messages.
        queue_size: Messages waiting for a worker before intake answers 503.
        poll_interval_seconds: Pause between two polling rounds.
        poll_rooms: How many recently active spaces a polling round looks at.
        poll_api_budget_per_minute: The most Webex calls polling may make in a minute.
        max_body_bytes: The largest webhook body accepted (413 beyond).
        max_event_age_seconds: Deliveries whose message is older than this are ignored
            (replays); 0 turns the check off.
        webhook_path: Where the webhook endpoint is mounted.
        webhook_name: The name marking webhooks this bot owns.
        history_max: The most messages `history N` shows.
        file_max_bytes: The largest received file fetched (refused after `HEAD` beyond).
        file_types: Media types received files may have (`image/*` patterns); empty: any.
        file_fetch_budget_seconds: The longest a download waits out the malware scan (423).
        file_allow_unscannable: Whether files Webex could not scan (428) are fetched.
        card_input_max_bytes: The largest card submit (its inputs as JSON) accepted.
    """

    api_base_url: str = "https://webexapis.com/v1/"
    intake: str = "polling"
    public_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    prefix: str = "/"
    plugins: tuple[str, ...] = ()
    policy: AccessPolicy = field(default_factory=AccessPolicy)
    workers: int = 4
    queue_size: int = 100
    poll_interval_seconds: float = 5.0
    poll_rooms: int = 20
    poll_api_budget_per_minute: int = 120
    max_body_bytes: int = 256 * 1024
    max_event_age_seconds: float = 600.0
    webhook_path: str = "/webhooks/webex"
    webhook_name: str = "tokenbot"
    history_max: int = 50
    file_max_bytes: int = 10 * 1024 * 1024
    file_types: tuple[str, ...] = ()
    file_fetch_budget_seconds: float = 60.0
    file_allow_unscannable: bool = False
    card_input_max_bytes: int = 4096

    def __post_init__(self) -> None:
        if self.intake not in {"webhook", "polling"}:
            raise ConfigError("bot.intake", f"{self.intake!r} is not webhook or polling")
        if not self.api_base_url.endswith("/v1/"):
            raise ConfigError("webex.api_base_url", "must end in /v1/")
        if self.workers < 1 or self.queue_size < 1:
            raise ConfigError("bot.workers", "workers and queue_size must be at least 1")
        if self.intake == "webhook" and not self.webhook_secret:
            raise ConfigError(
                "TOKENBOT_WEBHOOK_SECRET",
                "webhook intake needs a secret to check deliveries with",
                hint='set it to a random value, e.g. python -c "import secrets; '
                'print(secrets.token_urlsafe(32))"',
            )

    @property
    def webhook_url(self) -> str | None:
        """Return where Webex should deliver, or None without a public URL."""
        if not self.public_url:
            return None
        return self.public_url.rstrip("/") + self.webhook_path

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> BotOptions:
        """Read the `bot` and `webex` sections of `core.config.Settings`."""
        bot = settings.bot
        values: dict[str, Any] = {
            "api_base_url": settings.webex.api_base_url,
            "intake": bot.intake,
            "public_url": bot.public_url or None,
            "webhook_secret": _secret(getattr(bot, "webhook_secret", None)),
            "prefix": bot.prefix,
            "plugins": tuple(bot.plugins or ()),
            "policy": AccessPolicy.of(
                bot.allowed_emails or (), bot.allowed_domains or (), bot.allowed_spaces or ()
            ),
            "workers": bot.workers,
            "queue_size": bot.queue_size,
            "poll_interval_seconds": bot.poll_interval_seconds,
        }
        for name in (
            "poll_rooms",
            "poll_api_budget_per_minute",
            "max_body_bytes",
            "max_event_age_seconds",
            "history_max",
            "file_max_bytes",
            "file_types",
            "file_fetch_budget_seconds",
            "file_allow_unscannable",
            "card_input_max_bytes",
        ):
            if getattr(bot, name, None) is not None:
                values[name] = getattr(bot, name)
        values.update(overrides)
        return cls(**values)


def _secret(value: Any) -> str | None:
    """Unwrap a secret holder (`get_secret_value()` or `.value`) or a plain string."""
    if value is None:
        return None
    for attribute in ("get_secret_value", "reveal"):
        method = getattr(value, attribute, None)
        if callable(method):
            return str(method())
    return str(getattr(value, "value", value)) or None
