"""Prometheus metrics of the bot, on a registry passed in (no global state in tests)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Gauge
from prometheus_client import Histogram

__all__ = ["BotMetrics"]

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class BotMetrics:
    """Counters and histograms of the bot.

    - `tokenbot_bot_commands_total{command,outcome}`: outcome is ok, denied, bad_arguments,
      unknown, error, needs_reauth or too_late (reached after `bot.late_command_seconds`).
    - `tokenbot_bot_deliveries_total{intake,outcome}`: what intake did with each event.
    - `tokenbot_bot_command_latency_seconds`: from intake (delivery received or message
      fetched by the poller) to the last reply part posted.
    - `tokenbot_bot_queue_depth`: messages waiting or running in the worker pool.
    - `tokenbot_bot_throttled_total{scope}`: others' messages dropped by flood control, by the
      bucket that was empty (sender, space, others); no Webex call was made for them.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.commands = Counter(
            "tokenbot_bot_commands_total",
            "Chat commands handled, by command and outcome.",
            ["command", "outcome"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "tokenbot_bot_deliveries_total",
            "Events received by the bot's intake, by intake and outcome.",
            ["intake", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tokenbot_bot_command_latency_seconds",
            "Seconds from a command's intake to its reply being posted.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.throttled = Counter(
            "tokenbot_bot_throttled_total",
            "Messages of others dropped unanswered by flood control, by bucket.",
            ["scope"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "tokenbot_bot_queue_depth",
            "Messages waiting for or running on a bot worker.",
            registry=self.registry,
        )
