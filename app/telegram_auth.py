"""The Telegram bot's credential: `Authorization: Bot <secret>` plus `X-Telegram-Chat-Id`.

The bot holds no person's password, token or key. The API trusts its secret only together with
a chat linked to a person (telegram_chats), and then acts as that person in the organization the
chat is linked in, with exactly their permissions there. A chat linked in several organizations
names one with `X-Organization-Id`; without it, the chat's current one (chosen last with /org).
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from psycopg import AsyncConnection

from app.errors import unauthorized
from app.settings import Settings
from db.embedded import read_or_create_secret

SCHEME = "bot"
CHAT_HEADER = "x-telegram-chat-id"
CHAT_LINKS = "select * from telegram_chat_links(%s)"
# Telegram's chat ids fit in 52 bits; anything larger is no chat of Telegram's.
MAX_CHAT_ID = 2**52


def _from_aws(arn: str, settings: Settings) -> str:
    import boto3

    client = boto3.client("secretsmanager", region_name=settings.aws_region)
    return client.get_secret_value(SecretId=arn)["SecretString"].strip()


def _secret(value: str | None, arn: str | None, settings: Settings, path: Path) -> str:
    """The setting, else Secrets Manager on AWS, else a secret generated into the state folder."""
    if value:
        return value
    if arn:
        return _from_aws(arn, settings)
    return read_or_create_secret(path, length=32)


def bot_secret(settings: Settings) -> str:
    """The bot's credential to the API (shared by the API and the bot)."""
    return _secret(settings.telegram_bot_secret, settings.telegram_bot_secret_arn, settings,
                   settings.secrets_dir / "telegram-bot-secret")


def webhook_secret(settings: Settings) -> str:
    """What Telegram sends in `X-Telegram-Bot-Api-Secret-Token` (given to it by setWebhook)."""
    return _secret(settings.telegram_webhook_secret, settings.telegram_webhook_secret_arn, settings,
                   settings.secrets_dir / "telegram-webhook-secret")


def bot_token(settings: Settings) -> str | None:
    """Telegram's token for the bot: the setting, Secrets Manager, or the state folder's file.

    Never generated: Telegram's BotFather issues it.
    """
    if settings.telegram_bot_token:
        return settings.telegram_bot_token
    if settings.telegram_bot_token_arn:
        return _from_aws(settings.telegram_bot_token_arn, settings)
    path = settings.secrets_dir / "telegram-bot-token"
    return (path.read_text().strip() or None) if path.is_file() else None


def app_bot_secret(request: Request) -> str:
    """The application's bot secret, read once per application."""
    state = request.app.state
    if getattr(state, "telegram_bot_secret", None) is None:
        state.telegram_bot_secret = bot_secret(state.settings)
    return state.telegram_bot_secret


def bot_credential_presented(request: Request) -> bool:
    scheme, _, _ = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == SCHEME


def check_bot_secret(request: Request) -> None:
    """401 unless `Authorization: Bot <secret>` carries the bot's secret (compared in constant time)."""
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != SCHEME or not hmac.compare_digest(
            presented.strip().encode(), app_bot_secret(request).encode()):
        raise unauthorized("The bot credential is invalid.", "invalid_bot_credential")


def chat_id(request: Request) -> int:
    """The chat named by `X-Telegram-Chat-Id`; 401 when absent or not a chat id."""
    raw = request.headers.get(CHAT_HEADER, "").strip()
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value == 0 or abs(value) >= MAX_CHAT_ID:
        raise unauthorized("The bot acts only for a linked chat: send X-Telegram-Chat-Id.", "chat_not_linked")
    return value


@dataclass(frozen=True)
class ChatLink:
    """A chat linked to a person in an organization: who the bot acts as."""

    chat_id: int
    organization_id: uuid.UUID
    user_id: uuid.UUID


def _requested_organization(request: Request) -> uuid.UUID | None:
    route = request.scope.get("route")
    raw = (request.path_params.get("id")
           if route is not None and getattr(route, "path", "").startswith("/api/organizations/{id}")
           else request.headers.get("x-organization-id"))
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None  # tenant_caller answers the malformed header


async def chat_caller(request: Request, conn: AsyncConnection) -> ChatLink | None:
    """The linked chat a bot request acts for, None when it does not present the bot credential.

    401 for a wrong secret, a missing or unlinked chat. A chat linked elsewhere than the
    organization asked for is left to tenant_caller, which answers 404 as for an API key.
    """
    if not bot_credential_presented(request):
        return None
    check_bot_secret(request)
    chat = chat_id(request)
    links = await (await conn.execute(CHAT_LINKS, (chat,))).fetchall()
    if not links:
        raise unauthorized("This chat is not linked to anyone: send /link with a code from Miyabi.",
                           "chat_not_linked")
    wanted = _requested_organization(request)
    link = next((row for row in links if row["organization_id"] == wanted), links[0])
    return ChatLink(chat, link["organization_id"], link["user_id"])
