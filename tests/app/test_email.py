"""E-mail senders: the outbox folder locally, SES on AWS (under moto)."""

from __future__ import annotations

import email
import os
import stat

import boto3
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from app.email import OutboxSender, SesSender, email_sender
from app.security import signing_secret
from app.settings import load_settings


def test_outbox_writes_one_eml_per_message(tmp_path):
    sender = OutboxSender(tmp_path / "outbox", "Miyabi <no-reply@miyabi.local>")
    sender.send("a@example.com", "Hello", "link: https://x/verify?token=abc\ntoken: abc\n")
    sender.send("b@example.com", "Hello again", "second")
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2
    message = email.message_from_bytes(files[0].read_bytes())
    assert message["To"] == "a@example.com" and "token: abc" in message.get_payload(decode=True).decode()


def test_outbox_messages_are_private(tmp_path):
    """They hold addresses and one-time tokens: 0600 files in a 0700 folder, whatever the umask."""
    previous = os.umask(0)
    try:
        OutboxSender(tmp_path / "home" / "outbox", "Miyabi <no-reply@miyabi.local>").send(
            "a@example.com", "Reset", "token: abc\n")
    finally:
        os.umask(previous)
    [message] = (tmp_path / "home" / "outbox").glob("*.eml")
    assert stat.S_IMODE(os.stat(message).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(message.parent).st_mode) == 0o700


def test_ses_sender_sends_through_ses(tmp_path):
    with mock_aws():
        boto3.client("ses", region_name="eu-west-1").verify_email_identity(EmailAddress="no-reply@miyabi.dev")
        settings = load_settings({"MIYABI_HOME": str(tmp_path), "MIYABI_EMAIL_BACKEND": "ses",
                                  "MIYABI_EMAIL_SENDER": "no-reply@miyabi.dev", "AWS_REGION": "eu-west-1"})
        sender = email_sender(settings)
        assert isinstance(sender, SesSender)
        sender.send("c@example.com", "Verify", "token: xyz")
        sent = ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages
        assert len(sent) == 1 and sent[0].destinations["ToAddresses"] == ["c@example.com"]


def test_jwt_secret_from_file_then_secrets_manager(tmp_path):
    local = load_settings({"MIYABI_HOME": str(tmp_path)})
    first = signing_secret(local)
    path = tmp_path / "secrets" / "jwt-secret"
    assert path.stat().st_mode & 0o777 == 0o600 and signing_secret(local) == first and len(first) >= 64
    with mock_aws():
        arn = boto3.client("secretsmanager", region_name="eu-west-1").create_secret(
            Name="miyabi/jwt", SecretString="from-secrets-manager")["ARN"]
        aws = load_settings({"MIYABI_HOME": str(tmp_path / "aws"), "MIYABI_JWT_SECRET_ARN": arn,
                             "AWS_REGION": "eu-west-1"})
        assert signing_secret(aws) == "from-secrets-manager"
    assert not (tmp_path / "aws" / "secrets").exists()
