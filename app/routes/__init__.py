"""One router per resource; main.py includes every router of ROUTERS, in order."""

from fastapi import APIRouter

from app.routes import api_keys, auth, health, invitations, organizations, roles, teams

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    auth.router,
    organizations.router,
    invitations.router,
    teams.router,
    roles.router,
    api_keys.router,
)
