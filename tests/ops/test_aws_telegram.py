"""The deploy's Telegram step against moto (Secrets Manager) and the fake Bot API of tests/bot:
setWebhook with the stack's route and secret, skipped without a token, a refusal reported without
the token. No test reaches Telegram."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ops.pipeline.aws import telegram
from ops.pipeline.aws.target import AwsTarget
from tests.bot.fake_telegram import TOKEN, FakeTelegram

WEBHOOK_URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/telegram/webhook"
WEBHOOK_SECRET = "webhook-secret-never-logged_0123456789"


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


def _outputs(session, token: str | None = TOKEN) -> dict[str, str]:  # noqa: ANN001
    secrets = session.client("secretsmanager")
    # The token's secret as Pulumi makes it: no value until someone puts one.
    token_arn = secrets.create_secret(Name="miyabi-dev-telegram-token")["ARN"]
    if token is not None:
        secrets.put_secret_value(SecretId=token_arn, SecretString=token)
    secret_arn = secrets.create_secret(Name="miyabi-dev-telegram-webhook", SecretString=WEBHOOK_SECRET)["ARN"]
    return {"telegram_bot_token_secret_arn": token_arn, "telegram_webhook_secret_arn": secret_arn,
            "telegram_webhook_url": WEBHOOK_URL, "function_name": "miyabi-api"}


def _target(session, outputs: dict, tmp_path: Path, api_url: str, lines: list[str]) -> AwsTarget:  # noqa: ANN001
    return AwsTarget("dev", {"MIYABI_HOME": str(tmp_path), "TELEGRAM_API_URL": api_url},
                     progress=lines.append, outputs=lambda: outputs, session=session, check=False)


def test_deploy_sets_the_webhook_with_the_route_and_the_secret(session, fake: FakeTelegram,  # noqa: ANN001, F811
                                                              tmp_path: Path) -> None:
    lines: list[str] = []
    target = _target(session, _outputs(session), tmp_path, fake.url, lines)
    names = [step.name for step in target.deploy_steps()]
    assert names.index("verify") < names.index("telegram") < names.index("watch")
    step = next(s for s in target.deploy_steps() if s.name == "telegram")
    assert step.run({}) == {"telegram_webhook": WEBHOOK_URL}
    assert fake.calls == ["setWebhook"]
    assert fake.webhook == {"url": WEBHOOK_URL, "secret_token": WEBHOOK_SECRET,
                            "allowed_updates": ["message"]}
    assert lines == [f"Telegram webhook set to {WEBHOOK_URL}"]


def test_without_a_token_the_step_says_so_and_calls_nobody(session, fake: FakeTelegram,  # noqa: ANN001, F811
                                                           tmp_path: Path) -> None:
    lines: list[str] = []
    outputs = _outputs(session, token=None)
    result = _target(session, outputs, tmp_path, fake.url, lines)._telegram({})
    assert result == {"telegram_webhook": "skipped: no bot token"}
    assert fake.calls == [] and fake.webhook == {}
    [line] = lines
    assert line.startswith("Telegram webhook skipped: no bot token in ")
    assert outputs["telegram_bot_token_secret_arn"] in line


def test_a_stack_without_bot_outputs_is_skipped(session, fake: FakeTelegram, tmp_path: Path) -> None:  # noqa: ANN001, F811
    lines: list[str] = []
    result = _target(session, {"function_name": "miyabi-api"}, tmp_path, fake.url, lines)._telegram({})
    assert result["telegram_webhook"].startswith("skipped") and fake.calls == []
    assert lines == ["Telegram webhook skipped: the stack declares no bot (no telegram_* outputs)"]


def test_a_refusal_is_reported_without_the_token_or_the_secret(session, fake: FakeTelegram,  # noqa: ANN001, F811
                                                               tmp_path: Path) -> None:
    lines: list[str] = []
    wrong = "999999:WRONG-token-telegram-does-not-know"
    result = _target(session, _outputs(session, token=wrong), tmp_path, fake.url, lines)._telegram({})
    assert result["telegram_webhook"] == "failed: Telegram refused setWebhook (401): Unauthorized"
    assert fake.webhook == {}
    [line] = lines
    assert "Telegram webhook not set" in line and "Unauthorized" in line
    for text in (line, str(result)):
        assert wrong not in text and WEBHOOK_SECRET not in text


def test_telegram_refusing_the_url_is_reported(session, fake: FakeTelegram, tmp_path: Path) -> None:  # noqa: ANN001, F811
    outputs = {**_outputs(session), "telegram_webhook_url": "http://plain.example.com/telegram/webhook"}
    result = _target(session, outputs, tmp_path, fake.url, [])._telegram({})
    assert "HTTPS URL must be provided" in result["telegram_webhook"]


def test_an_unreachable_bot_api_is_reported_without_the_token(session, tmp_path: Path) -> None:  # noqa: ANN001, F811
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    lines: list[str] = []
    result = _target(session, _outputs(session), tmp_path, closed, lines)._telegram({})
    assert result["telegram_webhook"] == (
        f"failed: the Bot API at {closed} did not answer setWebhook (ConnectError)")
    assert TOKEN not in lines[0] and TOKEN not in str(result)


def test_the_default_bot_api_is_telegrams(session) -> None:  # noqa: ANN001, F811
    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:  # stands in for Telegram: nothing leaves
        asked.append(request)
        return httpx.Response(200, json={"ok": True, "result": True})

    result = telegram.register(session.client("secretsmanager"), _outputs(session), None, lambda _: None,
                               transport=httpx.MockTransport(answer))
    assert result == {"telegram_webhook": WEBHOOK_URL}
    [request] = asked
    assert str(request.url) == f"https://api.telegram.org/bot{TOKEN}/setWebhook"
