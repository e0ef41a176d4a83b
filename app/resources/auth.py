"""Auth: the bodies and answers of registration, login and the e-mail links, and the links' SQL."""

from __future__ import annotations

from pydantic import BaseModel, EmailStr

from app.schemas import Body, Name, Password
from app.security import RESET_PASSWORD, VERIFY_EMAIL

STORE_EMAIL_LINK = """
insert into email_tokens (user_id, purpose, token_hash, expires_at)
values (%s, %s, %s, now() + make_interval(hours => %s))
"""
SPEND_EMAIL_LINK = """
update email_tokens set used_at = now()
where token_hash = %s and purpose = %s and user_id = %s and used_at is null and expires_at > now()
returning user_id
"""
# After a reset, the person's other reset links are spent too: one left in a mailbox someone
# else read would otherwise undo the reset.
SPEND_RESET_LINKS = """
update email_tokens set used_at = now()
where user_id = %s and purpose = 'reset_password' and used_at is null
"""
PURPOSES = {VERIFY_EMAIL: "verify_email", RESET_PASSWORD: "reset_password"}


class RegisterIn(Body):
    email: EmailStr
    password: str = Password
    name: str = Name


class TokenIn(Body):
    token: str


class LoginIn(Body):
    email: EmailStr
    password: str


class RefreshIn(Body):
    refresh_token: str


class EmailIn(Body):
    email: EmailStr


class ResetIn(Body):
    token: str
    password: str = Password


class MeIn(Body):
    name: str = Name


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105
    expires_in: int
