"""Where the bot finds its token, and the sentence when there is none."""

from __future__ import annotations

import pytest

from app.settings import load_settings
from app.telegram_auth import bot_secret, bot_token
from bot.run import MissingToken, token_of
from db.embedded import write_private


def test_the_token_comes_from_the_setting_or_the_state_folder_else_one_sentence(tmp_path):
    home = load_settings({"MIYABI_HOME": str(tmp_path)})
    with pytest.raises(MissingToken, match=r"^No Telegram bot token: set TELEGRAM_BOT_TOKEN"):
        token_of(home)
    (tmp_path / "secrets").mkdir(mode=0o700)
    write_private(tmp_path / "secrets" / "telegram-bot-token", "42:from-the-file\n")
    assert bot_token(home) == "42:from-the-file"
    assert token_of(load_settings({"MIYABI_HOME": str(tmp_path), "TELEGRAM_BOT_TOKEN": "42:env"})) == "42:env"


def test_the_bot_secret_is_generated_private_once(tmp_path):
    settings = load_settings({"MIYABI_HOME": str(tmp_path)})
    secret = bot_secret(settings)
    path = tmp_path / "secrets" / "telegram-bot-secret"
    assert len(secret) >= 40 and path.stat().st_mode & 0o077 == 0
    assert bot_secret(settings) == secret
