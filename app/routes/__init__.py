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
    organizations,
    roles,
    status,
    tasks,
    teams,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    auth.router,
    organizations.router,
    invitations.router,
    teams.router,
    roles.router,
    api_keys.router,
    agents.router,
    tasks.router,
    status.router,
    events.router,
    audit_log.router,
)
