"""Server-rendered SVG pictures: an account's token timeline, and the dashboard's last and next day.

Plain SVG strings built here (no chart library, nothing from a CDN, no inline style: colours
come from classes in ``panel.css``, so both themes apply and the CSP stays strict). Every
picture carries a ``<title>`` and a ``<desc>`` saying in words what it shows, for screen
readers; the same sentence is returned as `Chart.text` for the page to print below it.
All text that reaches the SVG goes through `markupsafe.escape`.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa
from markupsafe import Markup
from markupsafe import escape

from tokenbot.core.botstate import BotStateStore
from tokenbot.core.botstate import hour_bucket
from tokenbot.core.db import Database
from tokenbot.core.models import Account
from tokenbot.core.models import AccountStatus
from tokenbot.core.models import EventKind
from tokenbot.core.records import AccountView
from tokenbot.core.records import EventView

__all__ = ["Chart", "activity_chart", "refresh_schedule_chart", "token_timeline"]

WIDTH = 900
HOUR_WIDTH = 560
PAST = timedelta(days=30)
FUTURE = timedelta(days=15)
_ISSUES_ACCESS = {EventKind.CONNECTED, EventKind.RECONNECTED, EventKind.REFRESHED}
_ISSUES_GRANT = {EventKind.CONNECTED, EventKind.RECONNECTED}
_ENDS_GRANT = {EventKind.NEEDS_REAUTH, EventKind.DISCONNECTED}
_MARKS = {
    EventKind.REFRESHED: ("refresh", "refresh"),
    EventKind.REFRESH_FAILED: ("failure", "failure"),
    EventKind.CONNECTED: ("connect", "connect"),
    EventKind.RECONNECTED: ("connect", "reconnect"),
    EventKind.NEEDS_REAUTH: ("failure", "needs re-login"),
    EventKind.DISCONNECTED: ("failure", "disconnect"),
}


@dataclass(frozen=True, slots=True)
class Chart:
    """An SVG picture and its text equivalent."""

    svg: Markup
    text: str


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _svg(
    chart_id: str, height: int, title: str, text: str, body: Iterable[str], width: int = WIDTH
) -> Markup:
    return Markup(
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(text)}</desc>' + "".join(body) + "</svg>"
    )


def _day_label(moment: datetime) -> str:
    return f"{moment:%b} {moment.day}"


def token_timeline(view: AccountView, events: Sequence[EventView], now: datetime) -> Chart:
    """Draw the access and refresh tokens' lifetimes over the last 30 days, and every event.

    Args:
        view: The account (its current expiries end the last bars).
        events: Its history, any order; only the last 30 days are drawn.
        now: The panel's clock.
    """
    start, end = now - PAST, now + FUTURE
    left, right = 120, WIDTH - 20
    span = (end - start).total_seconds()

    def x(moment: datetime) -> float:
        moment = min(max(moment, start), end)
        return round(left + (right - left) * (moment - start).total_seconds() / span, 1)

    ordered = sorted((e for e in events if e.at <= now), key=lambda e: (e.at, e.id))
    body: list[str] = []
    # Axis: a tick every five days, dates in UTC, and "now".
    day = datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(days=1)
    while day < end:
        if (day - datetime(2000, 1, 1, tzinfo=UTC)).days % 5 == 0:
            body.append(
                f'<line class="grid" x1="{x(day)}" y1="18" x2="{x(day)}" y2="118"/>'
                f'<text class="axis" x="{x(day)}" y="134" text-anchor="middle">'
                f"{escape(_day_label(day))}</text>"
            )
        day += timedelta(days=1)
    body.append(f'<line class="now" x1="{x(now)}" y1="10" x2="{x(now)}" y2="122"/>')
    body.append(f'<text class="axis" x="{x(now)}" y="10" text-anchor="middle">now</text>')
    body.append('<text class="lane" x="4" y="38">access token</text>')
    body.append('<text class="lane" x="4" y="72">refresh token</text>')
    body.append('<text class="lane" x="4" y="106">events</text>')

    def bar(y: int, begin: datetime, finish: datetime, cls: str) -> None:
        if finish <= start or begin >= end or finish <= begin:
            return
        past_end = min(finish, now)
        if past_end > begin:
            width = max(1.0, x(past_end) - x(begin))
            body.append(
                f'<rect class="bar {cls}" x="{x(begin)}" y="{y}" width="{width:.1f}" '
                f'height="14" rx="3"/>'
            )
        if finish > now:
            first = max(begin, now)
            width = max(1.0, x(finish) - x(first))
            body.append(
                f'<rect class="bar {cls} ahead" x="{x(first)}" y="{y}" width="{width:.1f}" '
                f'height="14" rx="3"/>'
            )

    # Access tokens: each issuing event starts one, the next issue (or the grant's end) ends it.
    issued = [e for e in ordered if e.kind in _ISSUES_ACCESS or e.kind in _ENDS_GRANT]
    for this, after in zip(issued, [*issued[1:], None], strict=True):
        if this.kind not in _ISSUES_ACCESS:
            continue
        if after is not None:
            bar(28, this.at, after.at, "access")
        elif view.has_tokens and view.access_expires_at is not None:
            bar(28, this.at, view.access_expires_at, "access")
    # Refresh token (the grant): from a (re)connect to the next one, or to its expiry or end.
    grants = [e for e in ordered if e.kind in _ISSUES_GRANT or e.kind in _ENDS_GRANT]
    for this, after in zip(grants, [*grants[1:], None], strict=True):
        if this.kind not in _ISSUES_GRANT:
            continue
        if after is not None:
            bar(62, this.at, after.at, "refresh")
        elif view.has_tokens:
            bar(62, this.at, view.refresh_expires_at or end, "refresh")
    counts = {"refresh": 0, "failure": 0, "connect": 0}
    for event in ordered:
        mark = _MARKS.get(event.kind)
        if mark is None or event.at < start:
            continue
        cls, label = mark
        counts[cls] += 1
        cx = x(event.at)
        tip = f"{label} at {event.at.astimezone(UTC):%b %d %H:%M} UTC"
        if cls == "failure":
            shape = (
                f'<path class="mark failure" d="M{cx - 6} 96 L{cx + 6} 108 M{cx + 6} 96 '
                f'L{cx - 6} 108"/>'
            )
        elif cls == "connect":
            shape = (
                f'<path class="mark connect" d="M{cx} 94 L{cx + 7} 102 L{cx} 110 L{cx - 7} 102 Z"/>'
            )
        else:
            shape = f'<circle class="mark refresh" cx="{cx}" cy="102" r="5"/>'
        body.append(
            f'<g class="event" data-kind="{event.kind.value}">'
            f"<title>{escape(tip)}</title>{shape}</g>"
        )
    parts = [
        _plural(counts["refresh"], "refresh").replace("refreshs", "refreshes"),
        _plural(counts["failure"], "failure"),
        _plural(counts["connect"], "connect or reconnect"),
    ]
    text = "In the last 30 days: " + ", ".join(parts) + "."
    if view.has_tokens and view.access_expires_at is not None:
        text += (
            f" The access token expires {view.access_expires_at.astimezone(UTC):%b %d %H:%M} UTC"
        )
        if view.refresh_expires_at is not None:
            text += f", the refresh token {view.refresh_expires_at.astimezone(UTC):%b %d %H:%M} UTC"
        text += "."
    else:
        text += " The account has no usable tokens now."
    return Chart(_svg("timeline", 140, "Token lifetimes, last 30 days", text, body), text)


def _hour_bars(
    chart_id: str,
    title: str,
    series: Sequence[tuple[str, Sequence[int]]],
    first_hour: datetime,
    text: str,
) -> Chart:
    # Narrower than the timeline: these sit two to a row, and their text must stay legible.
    left, right, top, bottom = 34, HOUR_WIDTH - 8, 16, 120
    peak = max([1, *(v for _, values in series for v in values)])
    slot = (right - left) / 24
    width = slot / (len(series) + 1)
    body = [
        f'<line class="grid" x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}"/>',
        f'<text class="axis" x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text class="axis" x="{left - 6}" y="{bottom}" text-anchor="end">0</text>',
    ]
    for hour in range(24):
        moment = first_hour + timedelta(hours=hour)
        if hour % 3 == 0:
            body.append(
                f'<text class="axis" x="{left + slot * hour + slot / 2:.1f}" y="{bottom + 16}" '
                f'text-anchor="middle">{moment:%H}:00</text>'
            )
        for n, (cls, values) in enumerate(series):
            value = values[hour]
            if not value:
                continue
            height = (bottom - top) * value / peak
            body.append(
                f'<rect class="bar {cls}" x="{left + slot * hour + width * (n + 0.5):.1f}" '
                f'y="{bottom - height:.1f}" width="{width:.1f}" height="{height:.1f}">'
                f"<title>{value} {escape(cls)} at {moment:%H}:00 UTC</title></rect>"
            )
    return Chart(_svg(chart_id, 140, title, text, body, HOUR_WIDTH), text)


def activity_chart(state: BotStateStore, now: datetime) -> Chart:
    """Draw commands handled and errors per UTC hour over the last 24 hours."""
    first = (now - timedelta(hours=23)).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = [first + timedelta(hours=h) for h in range(24)]
    commands_by = state.hourly("commands_total", first)
    errors_by = state.hourly("errors", first)
    commands = [commands_by.get(hour_bucket("commands_total", h), 0) for h in hours]
    errors = [errors_by.get(hour_bucket("errors", h), 0) for h in hours]
    text = (
        f"Last 24 hours: {_plural(sum(commands), 'command')} handled, "
        f"{_plural(sum(errors), 'error')}."
    )
    if sum(commands):
        busiest = max(range(24), key=lambda h: commands[h])
        text += f" Busiest hour {hours[busiest]:%H}:00 UTC ({commands[busiest]})."
    return _hour_bars(
        "activity",
        "Commands and errors per hour",
        [("commands", commands), ("errors", errors)],
        first,
        text,
    )


def refresh_schedule_chart(database: Database, now: datetime) -> Chart:
    """Draw how many refreshes fall due in each of the next 24 hours (overdue: the first)."""
    first = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    until = first + timedelta(hours=24)
    query = sa.select(Account.next_refresh_at).where(
        Account.status.in_([AccountStatus.ACTIVE, AccountStatus.REFRESH_FAILING]),
        Account.next_refresh_at.is_not(None),
        Account.next_refresh_at < until,
    )
    counts = [0] * 24
    with database.read() as session:
        for (due,) in session.execute(query):
            if due is None:
                continue
            if due.tzinfo is None:
                due = due.replace(tzinfo=UTC)
            index = max(0, int((due - first).total_seconds() // 3600))
            counts[min(index, 23)] += 1
    total = sum(counts)
    text = f"Next 24 hours: {_plural(total, 'refresh').replace('refreshs', 'refreshes')} due."
    if total:
        busiest = max(range(24), key=lambda h: counts[h])
        text += f" Most at {first + timedelta(hours=busiest):%H}:00 UTC ({counts[busiest]})."
    return _hour_bars(
        "schedule", "Refreshes due per hour, next 24 hours", [("refreshes", counts)], first, text
    )
