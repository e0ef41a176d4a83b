"""API keys: for the bot and agent workers, acting as their owner inside one organization."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from app import audit
from app.deps import TenantCaller, TenantConn, TenantPerson
from app.errors import forbidden, not_found
from app.pagination import PageParams, Paginated
from app.resources.api_keys import API_KEY_KEYSET, KEY_COLUMNS, MY_KEYS, ApiKey, ApiKeyIn, NewApiKey
from app.security import digest, new_api_key

router = APIRouter(prefix="/api/api-keys", tags=["api keys"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=NewApiKey,
             summary="Create a key; `key` is shown this once and stored only as a hash",
             responses={403: {"description": "Called with an API key: only a person makes keys"}})
async def create_api_key(body: ApiKeyIn, caller: TenantPerson, conn: TenantConn) -> dict:
    key, prefix = new_api_key()
    row = await (await conn.execute(
        f"insert into api_keys (organization_id, user_id, name, prefix, key_hash) "
        f"values (%s, %s, %s, %s, %s) returning {KEY_COLUMNS}",
        (caller.organization_id, caller.user_id, body.name, prefix, digest(key)))).fetchone()
    await audit.record(conn, caller, "api_key.create", "api_key", row["id"], {"name": body.name})
    return {**row, "key": key}


@router.get("", response_model=Paginated[ApiKey], summary="The caller's keys (without secrets)")
async def list_api_keys(caller: TenantCaller, conn: TenantConn, page: PageParams) -> dict:
    return await API_KEY_KEYSET.fetch_page(conn, MY_KEYS, page, user=caller.user_id)


@router.delete("/{id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               summary="Revoke a key (its owner, or user.manage); it stops working at once")
async def revoke_api_key(id: uuid.UUID, caller: TenantCaller, conn: TenantConn) -> Response:
    row = await (await conn.execute("select user_id from api_keys where id = %s", (id,))).fetchone()
    if row is None:
        raise not_found("API key")
    if row["user_id"] != caller.user_id and not caller.can("user.manage"):
        raise forbidden("Only the key's owner or someone with user.manage may revoke it.")
    await conn.execute("update api_keys set revoked_at = now() where id = %s and revoked_at is null", (id,))
    await audit.record(conn, caller, "api_key.revoke", "api_key", id)
    return Response(status_code=204)
