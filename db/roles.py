"""The database roles the migrations create, besides the owner who runs them.

The owner has the shape of Amazon RDS's master user (NOSUPERUSER NOBYPASSRLS CREATEROLE CREATEDB);
nothing in Miyabi needs more. The roles below are made by the migrations and are NOLOGIN except
the API's, which the deploy gives a password.
"""

from __future__ import annotations

APP = "miyabi_app"
# Owns the SECURITY DEFINER look-ups; narrow SELECT policies TO it let it read what they need.
DEFINER = "miyabi_definer"
# Reads every row for pg_dump (`--role`), through SELECT-only policies TO it; writes nothing.
BACKUP = "miyabi_backup"

# The look-ups that may run with miyabi_definer's rights, and the tables it may read for them.
DEFINER_FUNCTIONS = frozenset({"authenticate_api_key", "find_invitation",
                               "legacy_import_of_source", "legacy_import_of_slug",
                               # 0018_telegram_link: a chat's links, the bot's subscriptions, a code
                               "telegram_chat_links", "telegram_subscriptions",
                               "find_telegram_link_code"})
DEFINER_TABLES = frozenset({"users", "organizations", "api_keys", "invitations", "legacy_imports",
                            "telegram_chats", "telegram_link_codes", "memberships"})
