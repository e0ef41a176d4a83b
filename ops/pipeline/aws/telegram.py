"""`invoke deploy --stack S` registers the Telegram webhook: Telegram's setWebhook with the
stack's `POST /telegram/webhook` URL and the webhook secret, both read from the stack (outputs,
Secrets Manager). Skipped, with one line saying why, while the stack has no bot token.

The token is a credential: it is part of the Bot API's URL, so no error, progress line or journal
record here carries a URL with it, nor the webhook secret.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

DEFAULT_API_URL = "https://api.telegram.org"
# The bot answers messages only (bot/telegram_app.py); nothing else is delivered to the webhook.
ALLOWED_UPDATES = ["message"]
TIMEOUT_SECONDS = 30
TOKEN_OUTPUT = "telegram_bot_token_secret_arn"  # noqa: S105 (an output's name)
SECRET_OUTPUT = "telegram_webhook_secret_arn"  # noqa: S105 (an output's name)
URL_OUTPUT = "telegram_webhook_url"


class WebhookNotSet(RuntimeError):
    """Telegram did not take the webhook (its answer, or why it could not be asked)."""


def secret_value(secrets, arn: str) -> str | None:  # noqa: ANN001
    """The secret's current value, or None while it has none (a secret created without one)."""
    try:
        value = secrets.get_secret_value(SecretId=arn).get("SecretString")
    except secrets.exceptions.ResourceNotFoundException:
        return None
    return (value or "").strip() or None


def set_webhook(telegram_api_url: str, token: str, url: str, secret: str, *,
                transport: httpx.BaseTransport | None = None) -> None:
    """Telegram's setWebhook; raises WebhookNotSet with Telegram's description when refused."""
    base = telegram_api_url.rstrip("/")
    payload = {"url": url, "secret_token": secret, "allowed_updates": ALLOWED_UPDATES}
    try:
        with httpx.Client(timeout=TIMEOUT_SECONDS, transport=transport) as client:
            response = client.post(f"{base}/bot{token}/setWebhook", json=payload)
        answer = response.json()
    except (httpx.HTTPError, ValueError) as error:
        # httpx's messages may quote the URL, which holds the token: only the kind is kept.
        raise WebhookNotSet(f"the Bot API at {base} did not answer setWebhook "
                            f"({type(error).__name__})") from None
    if not (isinstance(answer, dict) and answer.get("ok") is True):
        description = answer.get("description") if isinstance(answer, dict) else None
        raise WebhookNotSet(f"Telegram refused setWebhook ({response.status_code}): "
                            f"{description or 'no description'}")


def register(secrets, outputs: Mapping[str, Any], telegram_api_url: str | None,  # noqa: ANN001
             progress: Callable[[str], None], *,
             transport: httpx.BaseTransport | None = None) -> dict[str, str]:
    """The deploy step: set the webhook, or say in one line why it is not set.

    A refusal is reported, not raised: the release it follows is verified and serving, and the
    webhook's URL does not change between releases (runbooks/telegram-bot.md registers it by hand).
    """
    token_arn, secret_arn, url = (outputs.get(key) for key in (TOKEN_OUTPUT, SECRET_OUTPUT, URL_OUTPUT))
    if not (token_arn and secret_arn and url):
        progress("Telegram webhook skipped: the stack declares no bot (no telegram_* outputs)")
        return {"telegram_webhook": "skipped: no bot in the stack"}
    token = secret_value(secrets, str(token_arn))
    if token is None:
        progress(f"Telegram webhook skipped: no bot token in {token_arn} (put the token from "
                 "@BotFather there, then deploy again; runbooks/telegram-bot.md)")
        return {"telegram_webhook": "skipped: no bot token"}
    secret = secret_value(secrets, str(secret_arn))
    try:
        if secret is None:
            raise WebhookNotSet(f"the webhook secret {secret_arn} has no value")
        set_webhook(telegram_api_url or DEFAULT_API_URL, token, str(url), secret, transport=transport)
    except WebhookNotSet as error:
        progress(f"[yellow]Telegram webhook not set[/]: {error}; the release stands. Set it by hand "
                 "(runbooks/telegram-bot.md, 'On AWS') or deploy again.")
        return {"telegram_webhook": f"failed: {error}"}
    progress(f"Telegram webhook set to {url}")
    return {"telegram_webhook": str(url)}
