"""Render the collected benchmark figures as bench/report.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ANALYSIS = Path(__file__).resolve().parent / "analysis.md"


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _ratio(value: Any) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _figures(report: dict[str, Any], name: str) -> dict[str, Any] | None:
    run = report["benchmarks"].get(name)
    return None if run is None else run.get("figures")


def _bot(figures: dict[str, Any]) -> list[str]:
    floor = figures.get("floor_two_calls", {})
    lines = [
        f"Emulator served by {figures.get('emulator_server', '?')} (its own process); "
        "`tokenbot serve` in its own process.",
        "",
        "| path | p50 ms | p99 ms | mean ms | commands/s | p50 / floor | p99 / floor | "
        "throughput / floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in [
        ("floor_two_calls", "floor: GET + POST with the SDK"),
        ("floor_bare_bot", "floor: bare bot, whole path"),
        ("webhook", "ours: webhook intake"),
        ("polling", "ours: polling intake"),
    ]:
        stats = figures.get(key)
        if not stats:
            continue
        ratios = ["", "", ""]
        if floor and key not in ("floor_two_calls",):
            ratios = [
                f"{stats['p50_ms'] / floor['p50_ms']:.1f}x",
                f"{stats['p99_ms'] / floor['p99_ms']:.1f}x",
                f"{stats['throughput_commands_per_s'] / floor['throughput_commands_per_s']:.2f}x",
            ]
        lines.append(
            f"| {label} | {_fmt(stats['p50_ms'])} | {_fmt(stats['p99_ms'])} | "
            f"{_fmt(stats['mean_ms'])} | {_fmt(stats['throughput_commands_per_s'])} | "
            + " | ".join(ratios)
            + " |"
        )
    webhook = figures.get("webhook")
    if webhook and floor:
        lines += [
            "",
            f"Webhook above the two-call floor: p50 +{webhook['p50_ms'] - floor['p50_ms']:.2f} ms, "
            f"p99 +{webhook['p99_ms'] - floor['p99_ms']:.2f} ms. "
            f"Latency: {webhook['n']} commands one after another; throughput: bursts of "
            f"{webhook.get('inflight')} in flight, bot.workers = {webhook.get('workers')}.",
        ]
    polling = figures.get("polling")
    if polling:
        lines.append(
            f"Polling at bot.poll_interval_seconds = {polling.get('poll_interval_s')} "
            "(the config's minimum); commands posted at random moments within the interval."
        )
    return lines


def _wan(figures: dict[str, Any]) -> list[str]:
    floor = figures.get("floor_bare_bot", {})
    lines = [
        f"Every /v1 call and every webhook delivery takes {_fmt(figures.get('latency_ms'))} ms "
        f"(+ 0..{_fmt(figures.get('jitter_ms'))} ms jitter), the emulator's `latency_ms`.",
        "",
        "| path | p50 ms | p99 ms | p50 / floor | p99 / floor | p50 - floor ms | "
        "p50 / two-call floor |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    rows = [
        ("floor_two_calls", "floor: GET + POST with the SDK (2 calls)"),
        ("floor_bare_bot", "floor: bare bot, whole path (the target's floor)"),
        ("webhook", "ours: webhook intake"),
        ("websocket", "ours: websocket intake"),
        ("polling", "ours: polling intake"),
    ]
    for key, label in rows:
        stats = figures.get(key)
        if not stats:
            if key == "websocket":
                lines.append(f"| {label} | slot: no websocket intake yet | | | | | |")
            continue
        ratios = ["", "", "", ""]
        two = figures.get("floor_two_calls")
        if floor and key.startswith(("webhook", "websocket", "polling")):
            ratios = [
                f"{stats['p50_ms'] / floor['p50_ms']:.2f}x",
                f"{stats['p99_ms'] / floor['p99_ms']:.2f}x",
                f"{stats['p50_ms'] - floor['p50_ms']:+.1f}",
                f"{stats['p50_ms'] / two['p50_ms']:.2f}x" if two else "",
            ]
        lines.append(
            f"| {label} | {_fmt(stats['p50_ms'])} | {_fmt(stats['p99_ms'])} | "
            + " | ".join(ratios)
            + " |"
        )
    return lines


def _rate(figures: dict[str, Any]) -> list[str]:
    return [
        f"Budget {figures['budget_calls']} calls per {_fmt(figures['window_s'])} s window for the "
        f"bot identity's token, {_fmt(figures['latency_ms'])} ms per call; "
        f"{figures['commands']} `/echo` from {figures['senders']} senders at once "
        f"({figures['intake']} intake).",
        "",
        *_table(
            [
                ("answered", figures["answered"]),
                ("seconds (first post -> last reply)", figures["seconds"]),
                ("calls per answered command", figures["calls_per_command"]),
                (
                    "ceiling: commands per window (budget / calls per command)",
                    figures["ceiling_commands_per_window"],
                ),
                ("achieved: commands per window", figures["commands_per_window"]),
                ("ratio to the ceiling", figures["ratio_to_ceiling"]),
                ("429 answers", figures["calls_429"]),
                ("429 per window", figures["429_per_window"]),
                (
                    "429 answers later than a round trip after the first",
                    figures.get("429_after_the_first_burst"),
                ),
                ("bot.queue_size", figures.get("queue_size")),
                ("bot's webhook at the end", figures.get("bot_webhook_status")),
                ("deliveries the bot refused (503)", figures.get("bot_webhook_failed_deliveries")),
            ]
        ),
    ]


def _fairness(figures: dict[str, Any]) -> list[str]:
    lines = [
        f"The user's own `/ping` ({figures['intake']} intake, "
        f"{_fmt(figures['latency_ms'])} ms per call); the floor is the quiet phase.",
        "",
        "| phase | ping p50 ms | ping p99 ms | p99 / quiet p99 | pings unanswered | "
        "flood answered | bot webhook after |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for key, label in [
        ("quiet", "quiet (floor)"),
        ("denied_flood", "non-allowed sender floods"),
        ("allowed_flood", "allowed sender floods"),
    ]:
        stats = figures.get(key)
        if stats:
            lines.append(
                f"| {label} ({stats['flood']}) | {_fmt(stats['p50_ms'])} | "
                f"{_fmt(stats['p99_ms'])} | {_ratio(stats.get('p99_ratio_to_quiet', 1.0))} | "
                f"{stats.get('pings_unanswered', 0)} | {stats['flood_answered']} | "
                f"{stats.get('bot_webhook_status', '')} |"
            )
    return lines


def _economy(figures: dict[str, Any]) -> list[str]:
    intakes = [k for k, v in figures.items() if isinstance(v, dict)]
    kinds = {
        "answered": "answered",
        "own_post": "own_post",
        "user_note": "user_note (the text decides)",
        "other_space": "other_space",
        "nothing_to_run": "nothing_to_run (no command open to the sender)",
        "chatter": "chatter (a sender with commands open: the text decides)",
    }
    lines = [
        f"Webex calls by the bot identity per message ({figures['messages']} of each kind), "
        "from the emulator's call log, idle polling subtracted; floor: 2 per answered command "
        "(GET + POST), 0 per ignored message.",
        "",
        "| message | " + " | ".join(intakes) + " |",
        "|---|" + "---:|" * len(intakes),
    ]
    for kind, label in kinds.items():
        cells = [_fmt(figures[i].get(kind)) for i in intakes]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    idle = [_fmt(figures[i].get("idle_calls_per_s")) for i in intakes]
    lines.append("| idle calls per second | " + " | ".join(idle) + " |")
    lines += ["", "The calls behind each row (raw counts, idle rounds and sentinel included):", ""]
    for intake in intakes:
        for kind, seen in figures[intake].get("calls_seen", {}).items():
            listed = ", ".join(f"{path} x{count}" for path, count in sorted(seen.items()))
            lines.append(f"- {intake}, {kind}: {listed or 'none'}")
    return lines


def _refresh_wan(figures: dict[str, Any]) -> list[str]:
    lines = [
        f"{_fmt(figures['latency_ms'])} ms per token call; the floor is the wire alone "
        "(accounts x latency / max_concurrency).",
        "",
        "| run | max_concurrency | accounts | seconds | accounts/s | wire floor s | "
        "/ floor | CPU ms/account | 10,000 in s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, row in [("headline", figures["headline"])] + [
        ("scaling", r) for r in figures["scaling"]
    ]:
        lines.append(
            f"| {label} | {row['max_concurrency']} | {row['accounts']} | {_fmt(row['seconds'])} "
            f"| {_fmt(row['accounts_per_second'])} | {_fmt(row['wire_floor_seconds'])} | "
            f"{_fmt(row['ratio_to_wire_floor'])}x | {_fmt(row['cpu_ms_per_account'])} | "
            f"{_fmt(row['predicted_10000_seconds'])} |"
        )
    return lines


def _table(pairs: list[tuple[str, Any]]) -> list[str]:
    lines = ["| figure | value |", "|---|---:|"]
    lines += [f"| {name} | {_fmt(value)} |" for name, value in pairs]
    return lines


def _timings(figures: dict[str, Any]) -> list[str]:
    lines = ["| request | p50 ms | p99 ms | mean ms | n |", "|---|---:|---:|---:|---:|"]
    for name, stats in figures.items():
        if isinstance(stats, dict) and "p50_ms" in stats:
            count = stats.get("n", stats.get("requests", stats.get("calls")))
            lines.append(
                f"| {name} | {_fmt(stats['p50_ms'])} | {_fmt(stats['p99_ms'])} | "
                f"{_fmt(stats['mean_ms'])} | {count} |"
            )
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    """Return the whole report as Markdown."""
    machine = report["machine"]
    out = [
        "# tokenbot benchmarks",
        "",
        "Written by `make bench` (`.venv/bin/python -m bench"
        + (" --quick" if report.get("quick") else "")
        + f"`) on {machine['date']}, commit `{machine['git_commit'][:12]}`"
        + (" (with uncommitted changes)" if machine.get("git_dirty") else "")
        + f", in {report['total_seconds']:.0f} s. Machine details and every raw figure: "
        "[report.json](report.json).",
        "",
        f"Machine: {machine['cpu_model']}, {machine['cpu_count']} CPUs, "
        f"{machine['memory_gib']} GiB; Python {machine['python']}; {machine['os']}.",
        "",
        "## Targets",
        "",
        "| figure | measured | target | verdict | reproduce |",
        "|---|---:|---:|---|---|",
    ]
    for row in report["targets"]:
        verdict = "met" if row["met"] else "**missed**"
        out.append(
            f"| {row['target']} | {_fmt(row['value'])} {row['unit']} | "
            f"{row['comparison']} {_fmt(row['limit'])} | {verdict} | `{row['command']}` |"
        )
    sections: list[tuple[str, str, Any]] = [
        ("Bot: end to end, a person posts -> the reply is visible", "bot_latency", _bot),
        (
            "Refresher: due accounts refreshed in one sweep",
            "refresh_throughput",
            lambda f: _table([(k, v) for k, v in f.items() if k != "counts"]),
        ),
        ("Refresher: one sweep with none due", "sweep", lambda f: _table(list(f.items()))),
        ("Panel with 10,000 accounts (Flask test client, in process)", "dashboard", _timings),
        ("Process: `tokenbot serve`", "process", lambda f: _table(list(f.items()))),
        ("WAN latency: post -> reply at 100 ms per call", "wan_latency", _wan),
        ("Rate budget: commands answered within the token's budget", "rate_budget", _rate),
        ("Fairness: the user's own /ping during a flood", "fairness", _fairness),
        ("Economy: Webex calls per message", "economy", _economy),
        ("Refresher at WAN latency", "refresh_wan", _refresh_wan),
    ]
    for title, name, render in sections:
        figures = _figures(report, name)
        out += ["", f"## {title}", ""]
        if figures is None:
            run = report["benchmarks"].get(name)
            out.append("not run" if run is None else f"FAILED (exit {run['exit_code']})")
            continue
        out += render(figures)
        run = report["benchmarks"][name]
        when = f" (run at commit `{run['git_commit']}`)" if run.get("git_commit") else ""
        out += ["", f"Reproduce: `{run['command']}`{when}"]
    emulator = _figures(report, "emulator_latency")
    if emulator:
        out += [
            "",
            "## The emulator itself (SDK call, one after another)",
            "",
            "| server | call | p50 ms | p99 ms | mean ms |",
            "|---|---|---:|---:|---:|",
        ]
        for server, calls in emulator.items():
            for call, stats in calls.items():
                out.append(
                    f"| {server} | {call} | {_fmt(stats['p50_ms'])} | {_fmt(stats['p99_ms'])} "
                    f"| {_fmt(stats['mean_ms'])} |"
                )
        out += ["", f"Reproduce: `{report['benchmarks']['emulator_latency']['command']}`"]
    if ANALYSIS.exists():
        out += ["", ANALYSIS.read_text(encoding="utf-8").rstrip()]
    return "\n".join(out) + "\n"
