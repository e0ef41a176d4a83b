"""Telegram: link codes for people, and the bot's own endpoints for its linked chats.

People (an access token) ask for a one-time code and see or end their chats' links. The bot
(`Authorization: Bot <secret>`, app/telegram_auth.py) spends a code for a chat, reads and
changes the chat's links, keeps the last event it delivered to each, and lists what to follow.
Everything else the bot does goes through the ordinary endpoints, as the linked person.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.security import APIKeyHeader

from app import audit
from app.deps import Caller, Pool, TenantCaller, TenantConn, TenantPerson
from app.errors import ApiError, forbidden, not_found, unprocessable
from app.pagination import Paginated
from app.resources.telegram import (
    MY_CHATS,
    Chat,
    ChatLink,
    ChatPatch,
    CursorIn,
    LinkCode,
    Linked,
    LinkIn,
    Subscription,
)
from app.telegram_auth import CHAT_LINKS, MAX_CHAT_ID, chat_id, check_bot_secret
from app.telegram_links import count_attempt, issue, spend

router = APIRouter(prefix="/api/telegram", tags=["telegram"])

BOT_ONLY = {401: {"description": "Not the bot's credential, or (for a chat) no linked chat"}}


def bot_chat(caller: Caller) -> int:
    if caller.telegram_chat_id is None:
        raise forbidden("Only the Telegram bot, for a linked chat, calls this.", "bot_required")
    return caller.telegram_chat_id


# Documents the bot's credential; check_bot_secret reads and checks the header itself.
bot_scheme = APIKeyHeader(name="Authorization", scheme_name="bot", auto_error=False,
                          description="`Bot <secret>`: the Telegram bot's own credential")


async def bot_secret_only(request: Request, _: Annotated[str | None, Depends(bot_scheme)]) -> None:
    check_bot_secret(request)


@router.post("/link-codes", status_code=status.HTTP_201_CREATED, response_model=LinkCode,
             summary="A one-time code to link a Telegram chat to the caller in this organization",
             responses={403: {"description": "Not a person's access token"},
                        429: {"description": "Too many codes this hour (`too_many_link_codes`)"}})
async def create_link_code(request: Request, caller: TenantPerson, conn: TenantConn) -> dict:
    minutes = request.app.state.settings.telegram_link_code_minutes
    code, expires_at = await issue(conn, caller.organization_id, caller.user_id, minutes)
    await audit.record(conn, caller, "telegram.link_code_issued", "user", caller.user_id)
    return {"code": code, "expires_at": expires_at, "command": f"/link {code}"}


@router.get("/chats", response_model=Paginated[Chat], summary="The caller's linked chats here")
async def my_chats(caller: TenantCaller, conn: TenantConn) -> dict:
    rows = await (await conn.execute(MY_CHATS, (caller.user_id,))).fetchall()
    return {"items": rows, "next_cursor": None}


@router.delete("/chats/{chat}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               summary="End a chat's link here: the caller's own, or anyone's with user.manage")
async def unlink_chat(chat: Annotated[int, Path(ge=-MAX_CHAT_ID, le=MAX_CHAT_ID)], caller: TenantCaller,
                      conn: TenantConn) -> Response:
    mine = None if caller.can("user.manage") else caller.user_id
    row = await (await conn.execute(
        "delete from telegram_chats where chat_id = %s and (%s::uuid is null or user_id = %s) "
        "returning user_id", (chat, mine, mine))).fetchone()
    if row is None:
        raise not_found("chat")
    await audit.record(conn, caller, "telegram.unlinked", "telegram_chat", chat, {"user_id": row["user_id"]})
    return Response(status_code=204)


@router.post("/link", response_model=Linked, dependencies=[Depends(bot_secret_only)],
             summary="(bot) Link the chat of X-Telegram-Chat-Id with a person's code",
             responses={**BOT_ONLY,
                        400: {"description": "Unknown, expired or used code (`invalid_link_code`)"},
                        429: {"description": "Too many attempts from this chat"}})
async def link(body: LinkIn, request: Request, pool: Pool) -> dict:
    chat = chat_id(request)
    if chat < 0:
        raise unprocessable("Only a private chat can be linked to a person.",
                            [{"field": "X-Telegram-Chat-Id", "message": "a group chat"}])
    async with pool.connection() as conn, conn.transaction():
        await count_attempt(conn, chat)  # committed before the code is looked up
    async with pool.connection() as conn, conn.transaction():
        linked = await spend(conn, body.code, chat, body.title)
        if linked is None:
            raise ApiError(400, "invalid_link_code", "This code is unknown, expired or already used; "
                                                     "ask Miyabi for a new one.")
        caller = Caller(user_id=linked["user_id"], organization_id=linked["organization_id"],
                        telegram_chat_id=chat)
        await audit.record(conn, caller, "telegram.linked", "telegram_chat", chat)
        org = await (await conn.execute("select id, slug, name from organizations where id = %s",
                                        (linked["organization_id"],))).fetchone()
    return {"organization": org}


@router.get("/chat", response_model=Paginated[ChatLink], responses=BOT_ONLY,
            summary="(bot) The organizations the chat is linked in, the current one first")
async def chat_links(caller: TenantCaller, conn: TenantConn) -> dict:
    rows = await (await conn.execute(CHAT_LINKS, (bot_chat(caller),))).fetchall()
    return {"items": [_link(row, index == 0) for index, row in enumerate(rows)], "next_cursor": None}


def _link(row: dict, current: bool) -> dict:
    return {"organization": {"id": row["organization_id"], "slug": row["slug"], "name": row["name"]},
            "notify": row["notify"], "current": current, "last_event_id": row["last_event_id"]}


@router.patch("/chat", response_model=ChatLink, responses=BOT_ONLY,
              summary="(bot) Notifications on or off, or make this organization the chat's current one")
async def change_chat(body: ChatPatch, caller: TenantCaller, conn: TenantConn) -> dict:
    chat = bot_chat(caller)
    await conn.execute(
        "update telegram_chats set notify = coalesce(%s, notify), "
        "selected_at = case when %s then now() else selected_at end where chat_id = %s",
        (body.notify, bool(body.current), chat))
    if body.notify is not None:
        await audit.record(conn, caller, "telegram.notify_changed", "telegram_chat", chat,
                           {"notify": body.notify})
    rows = await (await conn.execute(CHAT_LINKS, (chat,))).fetchall()
    for index, row in enumerate(rows):
        if row["organization_id"] == caller.organization_id:
            return _link(row, index == 0)
    raise not_found("chat")


@router.delete("/chat", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses=BOT_ONLY, summary="(bot) End the chat's link in this organization")
async def unlink_own_chat(caller: TenantCaller, conn: TenantConn) -> Response:
    chat = bot_chat(caller)
    await conn.execute("delete from telegram_chats where chat_id = %s", (chat,))
    await audit.record(conn, caller, "telegram.unlinked", "telegram_chat", chat, {"user_id": caller.user_id})
    return Response(status_code=204)


@router.put("/chat/cursor", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
            responses=BOT_ONLY, summary="(bot) The last event delivered to the chat here (only moves on)")
async def save_cursor(body: CursorIn, caller: TenantCaller, conn: TenantConn) -> Response:
    await conn.execute("update telegram_chats set last_event_id = greatest(last_event_id, %s) "
                       "where chat_id = %s", (body.last_event_id, bot_chat(caller)))
    return Response(status_code=204)


@router.get("/subscriptions", response_model=Paginated[Subscription],
            dependencies=[Depends(bot_secret_only)], responses=BOT_ONLY,
            summary="(bot) Every linked chat with notifications on, and where it stopped")
async def subscriptions(pool: Pool) -> dict:
    async with pool.connection() as conn, conn.transaction():
        rows = await (await conn.execute("select * from telegram_subscriptions()")).fetchall()
    return {"items": rows, "next_cursor": None}

