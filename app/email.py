"""Outgoing e-mail: an outbox folder of `.eml` files locally, Amazon SES on AWS."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol

from anyio import to_thread

from app.private_files import private_dir, write_private
from app.settings import Settings


class EmailSender(Protocol):
    def send(self, to: str, subject: str, body: str) -> None: ...


class OutboxSender:
    """Writes each message as one `.eml` file (0600) in `folder` (0700): what a person or a test reads."""

    def __init__(self, folder: Path, sender: str) -> None:
        self.folder = folder
        self.sender = sender

    def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain="miyabi.local")
        message.set_content(body)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = private_dir(self.folder) / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        # Addresses and one-time tokens: nobody but the owner may read them.
        write_private(path, message.as_bytes(), replace=False)


class SesSender:
    """Sends through Amazon SES (the Lambda's role grants ses:SendEmail)."""

    def __init__(self, sender: str, region: str | None) -> None:
        import boto3

        self.sender = sender
        self.client = boto3.client("ses", region_name=region)

    def send(self, to: str, subject: str, body: str) -> None:
        self.client.send_email(
            Source=self.sender, Destination={"ToAddresses": [to]},
            Message={"Subject": {"Data": subject, "Charset": "UTF-8"},
                     "Body": {"Text": {"Data": body, "Charset": "UTF-8"}}})


def email_sender(settings: Settings) -> EmailSender:
    """The sender `settings.email_backend` names."""
    if settings.email_backend == "ses":
        return SesSender(settings.email_sender, settings.aws_region)
    return OutboxSender(settings.outbox_dir, settings.email_sender)


async def send(sender: EmailSender, to: str, subject: str, body: str) -> None:
    """Send without blocking the event loop (SES is a network call, the outbox a file write)."""
    await to_thread.run_sync(sender.send, to, subject, body)
