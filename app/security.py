"""Password hashing, signed tokens (JWT) and opaque secrets: the cryptography of the API.

- Passwords: argon2id with OWASP's parameters (19 MiB, t=2, p=1), hashed off the event loop in
  low-priority threads (app.password_pool).
  bcrypt hashes imported from the legacy system still verify; `needs_upgrade` says when to
  replace one with argon2id (at the next successful login).
- JWTs: HS256 pinned on decode, our issuer, one audience per purpose (an access token can never
  serve as a reset token), expiry in minutes. An access token also carries the person's session
  generation (`gen`): logging out everywhere or resetting the password raises it, which ends
  every access token issued before, even one issued in the same second.
- Opaque secrets (refresh tokens, API keys, invitation tokens): random, stored only as SHA-256.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import bcrypt
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app import password_pool
from app.settings import Settings
from db.embedded import read_or_create_secret

ALGORITHM = "HS256"
ISSUER = "miyabi"
ACCESS = "miyabi:access"
VERIFY_EMAIL = "miyabi:verify-email"
RESET_PASSWORD = "miyabi:reset-password"  # noqa: S105 (an audience)
API_KEY_PREFIX = "mk_"
SESSION_CLAIM = "gen"

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so both failures take the same time.

    Computed on first use (an argon2id hash: tens of milliseconds off every cold import).
    """
    return _hasher.hash("not a real password")


class InvalidToken(Exception):
    """A JWT that is malformed, forged, expired, or meant for another purpose."""


def _verify_sync(password: str, stored: str | None) -> bool:
    if not stored:
        _burn(password)
        return False
    if stored.startswith(("$2a$", "$2b$", "$2y$")):
        try:
            return bcrypt.checkpw(password.encode(), stored.encode())
        except ValueError:
            return False
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _burn(password: str) -> None:
    with contextlib.suppress(VerificationError):
        _hasher.verify(_dummy_hash(), password)


async def hash_password(password: str) -> str:
    """An argon2id hash of `password`, computed in a password thread (app.password_pool)."""
    return await password_pool.run(_hasher.hash, password)


async def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches `stored` (argon2id or legacy bcrypt); never raises."""
    return await password_pool.run(_verify_sync, password, stored)


def needs_upgrade(stored: str) -> bool:
    """Whether a (verified) hash should be replaced by a fresh argon2id one."""
    if not stored.startswith("$argon2id$"):
        return True
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def signing_secret(settings: Settings) -> str:
    """The JWT secret: the setting, else Secrets Manager on AWS, else a file in the state folder."""
    if settings.jwt_secret:
        return settings.jwt_secret
    if settings.jwt_secret_arn:
        import boto3

        client = boto3.client("secretsmanager", region_name=settings.aws_region)
        return client.get_secret_value(SecretId=settings.jwt_secret_arn)["SecretString"]
    return read_or_create_secret(settings.secrets_dir / "jwt-secret", length=48)


def issue_token(secret: str, subject: uuid.UUID | str, audience: str, minutes: int,
                **claims: Any) -> str:
    """A signed JWT for `subject`, valid for `audience` during `minutes`."""
    now = datetime.now(UTC)
    payload = {"iss": ISSUER, "sub": str(subject), "aud": audience, "iat": now,
               "exp": now + timedelta(minutes=minutes), "jti": uuid.uuid4().hex, **claims}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def decode_token(secret: str, token: str, audience: str) -> dict[str, Any]:
    """The claims of `token`, or InvalidToken unless it is ours, for `audience`, and unexpired."""
    try:
        return jwt.decode(token, secret, algorithms=[ALGORITHM], audience=audience, issuer=ISSUER,
                          options={"require": ["exp", "iat", "iss", "aud", "sub"]})
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from error


def token_subject(secret: str, token: str, audience: str) -> uuid.UUID:
    """The user id a valid token of `audience` names."""
    try:
        return uuid.UUID(decode_token(secret, token, audience)["sub"])
    except ValueError as error:
        raise InvalidToken("the subject is not a user id") from error


@dataclass(frozen=True)
class AccessGrant:
    """What a valid access token says: who, and in which session generation."""

    user_id: uuid.UUID
    session: int


def issue_access_token(secret: str, user_id: uuid.UUID, session: int, minutes: int) -> str:
    """An access JWT for `user_id`, valid while their session generation stays `session`."""
    return issue_token(secret, user_id, ACCESS, minutes, **{SESSION_CLAIM: session})


def access_grant(secret: str, token: str) -> AccessGrant:
    """The grant of a valid access token; one from before generations existed counts as 0."""
    return _grant_of(decode_token(secret, token, ACCESS))


def _grant_of(claims: dict[str, Any]) -> AccessGrant:
    session = claims.get(SESSION_CLAIM, 0)
    if type(session) is not int:
        raise InvalidToken("the session generation is not an integer")
    try:
        return AccessGrant(uuid.UUID(claims["sub"]), session)
    except ValueError as error:
        raise InvalidToken("the subject is not a user id") from error


class VerifiedTokens:
    """`access_grant` for one secret, remembering the tokens it verified until they expire.

    A client sends the same access token with every request for its whole lifetime, and
    verifying it (base64, HMAC, JSON, claims) costs more than the rest of a cached read. A token
    seen before is answered from memory after the same time checks PyJWT makes (expired when
    `exp <= now`, early when `iat` or `nbf` is after now); its signature, issuer, audience and
    subject cannot have changed. Only valid tokens are remembered, at most `size` of them.
    """

    def __init__(self, secret: str, size: int = 4096) -> None:
        self.secret, self.size = secret, size
        self._known: dict[str, tuple[AccessGrant, int, int, int]] = {}

    def grant(self, token: str) -> AccessGrant:
        now = time.time()
        if (known := self._known.get(token)) is not None:
            grant, expires, issued, not_before = known
            if expires > now and issued <= now and not_before <= now:
                return grant
            del self._known[token]
        claims = decode_token(self.secret, token, ACCESS)
        grant = _grant_of(claims)
        if len(self._known) >= self.size:
            del self._known[next(iter(self._known))]  # the oldest
        # decode_token requires exp and iat; PyJWT compares their integer values.
        self._known[token] = (grant, int(claims["exp"]), int(claims["iat"]), int(claims.get("nbf", 0)))
        return grant


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and not token.startswith(API_KEY_PREFIX)


def new_secret() -> str:
    """A 256-bit random value, URL-safe: refresh tokens and invitation tokens."""
    return secrets.token_urlsafe(32)


def new_api_key() -> tuple[str, str]:
    """A new API key and its look-up prefix (the first characters, shown in listings)."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:11]


def digest(value: str) -> bytes:
    """The SHA-256 of a secret: what the database stores and looks up."""
    return hashlib.sha256(value.encode()).digest()
