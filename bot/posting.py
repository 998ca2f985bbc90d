"""Posting as the user, and remembering every post so the bot never answers itself.

The bot posts *as a real person*: a message it posted comes back to it like anyone else's (by
webhook or polling). Each part is recorded before the post call (by content fingerprint, since
its id is not known yet) and by id after, so `is_own_post` recognizes it in both windows.

Every post goes through `markup.reply_parts`, the one place replies are escaped: `Markdown` the
bot built is posted as markup, any other text shows as the plain text it is (no link, image or
mention), whoever wrote it.
"""

from __future__ import annotations

from tokenbot.bot.client import WebexClient
from tokenbot.bot.identity import IdentityCache
from tokenbot.bot.markup import Markdown
from tokenbot.bot.markup import reply_parts
from tokenbot.bot.message import Message
from tokenbot.bot.recognize import fingerprint
from tokenbot.bot.reminders import Reminder
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
