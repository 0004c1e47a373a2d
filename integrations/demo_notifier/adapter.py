"""A notifier that delivers nothing: it logs each notification and keeps the latest in memory,
so demos show what would be sent and tests can assert on it."""

from __future__ import annotations

import logging
import secrets
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from bayaffairs.adapters.protocols import Notification, Notifier

log = logging.getLogger("bayaffairs.notifier")

KEPT = 1000


@dataclass(frozen=True)
class SentMessage:
    id: str
    notification: Notification
    sent_at: datetime


class DemoNotifier(Notifier):
    """Repeating a `dedupe_key` still kept returns the first message id and sends nothing."""

    @cached_property
    def sent(self) -> deque[SentMessage]:
        """The latest notifications, oldest first."""
        return deque(maxlen=KEPT)

    async def send(self, notification: Notification) -> str:
        if notification.dedupe_key is not None:
            for message in self.sent:
                if message.notification.dedupe_key == notification.dedupe_key:
                    return message.id
        message = SentMessage("msg_" + secrets.token_hex(8), notification, self.context.clock.now())
        self.sent.append(message)
        log.info(
            "notification %s to %s via %s: %s",
            message.id,
            notification.recipient,
            notification.channel,
            notification.subject.get(notification.language),
        )
        return message.id
