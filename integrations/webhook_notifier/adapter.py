"""Notifications POSTed as JSON to a push relay or any webhook (README.md has the format).

The subject and body go in the notification's own language. The `dedupe_key` is sent as the
relay's `Idempotency-Key`: the relay delivers a key once and answers a repeat with the first
message id, so a send that timed out can be retried without a second message. A relay that is
down, slow, refuses the token or answers garbage raises `PartnerError`.
"""

from __future__ import annotations

import json
import logging
import secrets

import aiohttp
from marshmallow import Schema, fields, validate

from bayaffairs.adapters.base import Adapter
from bayaffairs.adapters.protocols import Notification
from bayaffairs.errors import PartnerError

log = logging.getLogger(__name__)


class Settings(Schema):
    class Meta:
        unknown = "raise"

    url = fields.Url(required=True, require_tld=False)
    token = fields.String(required=True, validate=validate.Length(min=1))
    timeout_seconds = fields.Float(load_default=5.0, validate=validate.Range(min=0, min_inclusive=False))


class WebhookNotifier(Adapter):
    kind = "notifier"
    Settings = Settings

    async def send(self, notification: Notification) -> str:
        key = notification.dedupe_key or "ntf_" + secrets.token_hex(12)
        language = notification.language
        payload = {
            "id": key,
            "recipient": notification.recipient,
            "channel": notification.channel,
            "language": language,
            "subject": notification.subject.get(language),
            "body": notification.body.get(language),
        }
        headers = {
            "Authorization": f"Bearer {self.settings['token']}",
            "Idempotency-Key": key,
            "Accept": "application/json",
        }
        timeout = aiohttp.ClientTimeout(total=self.settings["timeout_seconds"])
        try:
            async with self.context.http.post(
                self.settings["url"], json=payload, headers=headers, timeout=timeout
            ) as response:
                status, raw = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._failure(f"unreachable ({type(exc).__name__})") from exc
        if status not in (200, 201, 202):
            raise self._failure(f"HTTP {status}")
        try:
            message_id = json.loads(raw)["message_id"]
        except (ValueError, KeyError, TypeError):
            raise self._failure("answer without message_id") from None
        if not isinstance(message_id, str) or not message_id:
            raise self._failure("answer without message_id")
        return message_id

    def _failure(self, reason: str) -> PartnerError:
        log.warning("%s: %s", self.id, reason)
        return PartnerError(details={"partner": self.id})
