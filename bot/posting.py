"""Posting as the user, and remembering every post so the bot never answers itself.

The bot posts *as a real person*: a message it posted comes back to it like anyone else's (by
webhook or polling). Each part is recorded before the post call (by content fingerprint, since
its id is not known yet) and by id after, so `is_own_post` recognizes it in both windows.

Every post goes through `markup.reply_parts`, the one place replies are escaped: `Markdown` the
bot built is posted as markup, any other text shows as the plain text it is (no link, image or
mention), whoever wrote it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from tokenbot.bot.client import WebexClient
from tokenbot.bot.identity import IdentityCache
from tokenbot.bot.markup import Markdown
from tokenbot.bot.markup import reply_parts
from tokenbot.bot.message import Message
from tokenbot.bot.recognize import fingerprint
from tokenbot.bot.reminders import Reminder
from tokenbot.bot.replies import Card
from tokenbot.bot.replies import File
from tokenbot.bot.replies import Reply
from tokenbot.bot.replies import RunCommand
from tokenbot.bot.replies import Text
from tokenbot.bot.text import neutralize_mentions
from tokenbot.core.botstate import BotStateStore

__all__ = ["Poster"]


class Poster:
    """Post markdown as the bot identity, split at Webex's limit, each part known as ours.

    Args:
        client: The Webex client (on the bot identity's token).
        state: Where own posts are remembered (shared by every instance).
        identity: Who the bot is (a reply to anyone else mentions nobody).
    """

    def __init__(self, client: WebexClient, state: BotStateStore, identity: IdentityCache) -> None:
        self._client = client
        self._state = state
        self._identity = identity

    def post(self, room_id: str, markdown: str, *, parent_id: str | None = None) -> list[Message]:
        """Post a reply as the user (split if long), remembering every part as ours.

        `Markdown` we built is posted as markup, any other text as the plain text it is.
        """
        posted = []
        for part in reply_parts(markdown):
            key = self._state.begin_post(room_id, fingerprint(room_id, part))
            try:
                message = self._client.post_message(room_id, part, parent_id=parent_id)
            except BaseException:
                self._state.abandon_post(key)
                raise
            self._state.finish_post(key, message.id)
            posted.append(message)
        return posted

    def send(
        self, room_id: str, reply: Reply, *, parent_id: str | None = None, mentions: bool = True
    ) -> list[Message]:
        """Post one reply of any kind (split if long text), remembering each message as ours.

        Every text here, a card's fallback and a file's caption too, goes through
        `markup.reply_parts` as `post` does: `Markdown` is posted as markup, anything else
        shows as the plain text it is.

        Args:
            room_id: The space.
            reply: `Markdown`, a plain `str` or `Text`, a `Card` (with its fallback) or a `File`.
            parent_id: The thread.
            mentions: False neutralizes mention markup (replies to anyone but the user).
        """
        if isinstance(reply, Text):
            reply = reply.text
        if isinstance(reply, str):
            return self.post(room_id, _mentioning(reply, mentions), parent_id=parent_id)
        if isinstance(reply, Card):
            # One message: the fallback is cut to what fits beside the card.
            fallback = reply_parts(_mentioning(reply.fallback, mentions))[0]
            attachments = [reply.attachment()]
            return [
                self._one(
                    room_id,
                    fallback,
                    parent_id=parent_id,
                    markdown=fallback,
                    attachments=attachments,
                )
            ]
        if isinstance(reply, File):
            text = None
            if reply.text:
                text = reply_parts(_mentioning(reply.text, mentions))[0]
            return [self._file(room_id, reply, text, parent_id)]
        if isinstance(reply, RunCommand):
            raise TypeError("RunCommand is for card callbacks; the dispatcher runs it")
        raise TypeError(f"not a reply: {type(reply).__name__}")

    def _one(
        self,
        room_id: str,
        shown: str,
        *,
        parent_id: str | None,
        markdown: str | None = None,
        text: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
        file_path: str | None = None,
    ) -> Message:
        # `shown` is the text the message comes back with: its fingerprint marks it ours.
        key = self._state.begin_post(room_id, fingerprint(room_id, shown))
        try:
            message = self._client.post_message(
                room_id,
                markdown,
                parent_id=parent_id,
                text=text,
                attachments=attachments,
                file_path=file_path,
            )
        except BaseException:
            self._state.abandon_post(key)
            raise
        self._state.finish_post(key, message.id)
        return message

    def _file(self, room_id: str, reply: File, text: str | None, parent_id: str | None) -> Message:
        # No text: a file-only message (the file's name is never posted as text, so a
        # hostile name cannot read as a command).
        shown = text or reply.name
        if reply.path is not None:
            path = str(self._named(reply.path, reply))
            return self._one(room_id, shown, parent_id=parent_id, markdown=text, file_path=path)
        with tempfile.TemporaryDirectory(prefix="tokenbot-reply-") as folder:
            target = Path(folder) / reply.name
            target.write_bytes(reply.data or b"")
            return self._one(
                room_id, shown, parent_id=parent_id, markdown=text, file_path=str(target)
            )

    @staticmethod
    def _named(path: Path, reply: File) -> Path:
        # The SDK names the upload after the path; a differently named path would mislabel it.
        if path.name != reply.name:
            raise ValueError(f"file reply {reply.name!r}: the path must end in that name")
        return path

    def reply_all(self, message: Message, replies: list[Reply]) -> list[Message]:
        """Answer `message` in its thread with each reply as its own message, in order."""
        me = self._identity.get()
        mentions = me is not None and message.person_id == me.person_id
        posted: list[Message] = []
        for reply in replies:
            posted.extend(
                self.send(message.room_id, reply, parent_id=message.thread_id, mentions=mentions)
            )
        return posted

    def reply(self, message: Message, markdown: str) -> list[Message]:
        """Answer `message` in its thread.

        A reply to anyone but the user mentions nobody: whatever text a command repeats, other
        people cannot make the user @mention a space (or everyone) in their name.
        """
        me = self._identity.get()
        if isinstance(markdown, Markdown) and (me is None or message.person_id != me.person_id):
            markdown = Markdown(neutralize_mentions(markdown))  # plain text: `post` escapes
        return self.post(message.room_id, markdown, parent_id=message.thread_id)

    def deliver_reminder(self, reminder: Reminder) -> None:
        """Post a due reminder into the thread it was asked in."""
        me = self._identity.get()
        if me is not None and reminder.requested_by == me.email:
            # The user's own words, as they wrote them.
            text = Markdown("⏰ Reminder for {}: ").format(reminder.requested_by)
            text += Markdown(reminder.text)
        else:
            text = Markdown("⏰ Reminder for {}: {}").format(reminder.requested_by, reminder.text)
        self.post(reminder.room_id, text, parent_id=reminder.parent_id)

    def is_own_post(self, message: Message) -> bool:
        """Tell whether the bot posted `message` (by id, or by content while still posting)."""
        prints = {
            fingerprint(message.room_id, content)
            for content in (message.markdown, message.text)
            if content
        }
        return self._state.is_own_post(message.id, prints)


def _mentioning(reply: str, mentions: bool) -> str:
    """Return `reply` with its mentions kept (`mentions`) or turned into plain `@name` text."""
    if mentions or not isinstance(reply, Markdown):
        return reply  # plain text: `reply_parts` escapes its mention markup anyway
    return Markdown(neutralize_mentions(reply))
