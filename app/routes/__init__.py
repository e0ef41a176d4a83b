"""One router per resource; main.py includes every router of ROUTERS, in order."""

from fastapi import APIRouter

from app.routes import (
    agents,
    api_keys,
    audit_log,
    auth,
    events,
    health,
    invitations,
    my_access,
    organizations,
    roles,
    session_cookie,
    status,
    tasks,
    teams,
    telegram,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    auth.router,
    session_cookie.router,
    organizations.router,
    my_access.router,
    invitations.router,
    teams.router,
    roles.router,
    api_keys.router,
    agents.router,
    tasks.router,
    status.router,
    events.router,
    audit_log.router,
    telegram.router,
)
