"""Browser sessions: the login body and the answer that carries only the access token."""

from __future__ import annotations

from pydantic import BaseModel, EmailStr, Field

from app.schemas import Body


class SessionLoginIn(Body):
    email: EmailStr
    password: str
    remember: bool = Field(False, description="Keep the session after the browser closes "
                                              "(a persistent cookie instead of a session cookie)")


class AccessToken(BaseModel):
    access_token: str = Field(description="Keep it in memory only; send it as `Authorization: Bearer`")
    token_type: str = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the access token expires: refresh before then")
