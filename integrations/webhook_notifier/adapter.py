"""Notifications POSTed as JSON to a push relay or any webhook (README.md has the format).

The subject and body go in the notification's own language. The `dedupe_key` is sent as the
relay's `Idempotency-Key`: the relay delivers a key once and answers a repeat with the first
message id, so a send that timed out can be retried without a second message. A relay that is
down, slow, refuses the token or answers garbage raises `PartnerError`.
"""

from __future__ import annotations

import secrets

from marshmallow import Schema, fields, validate

from bayaffairs.adapters.protocols import Notification, Notifier
from bayaffairs.integrations.remote import RemotePartner, timeout_field


class Settings(Schema):
    class Meta:
        unknown = "raise"

    url = fields.Url(required=True, require_tld=False)
    token = fields.String(required=True, validate=validate.Length(min=1))
    timeout_seconds = timeout_field()


class WebhookNotifier(RemotePartner, Notifier):
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
        status, raw = await self.request("POST", self.settings["url"], json=payload, headers=headers)
        if status not in (200, 201, 202):
            raise self.failure(f"HTTP {status}")
        message_id = self.answer(raw).get("message_id")
        if not isinstance(message_id, str) or not message_id:
            raise self.failure("answer without message_id")
        return message_id
