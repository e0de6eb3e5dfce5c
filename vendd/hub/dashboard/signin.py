"""Sign-in, sign-out and the reader's language.

The sign-in form is protected by a CSRF token bound to a short-lived cookie (there is no
session yet); failures are counted per account and per address (`Throttle`), and a blocked
reader is told how long to wait without learning whether the account exists."""

from __future__ import annotations

import asyncio
import math
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from vendd.hub.dashboard.app import (
    LANG_COOKIE,
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    Hub,
    language,
    render,
)
from vendd.messages_web import LANGUAGES


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never another host) is followed after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


def _cookie(response: Response, hub: Hub, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                        secure=hub.config.web.secure_cookies, path="/")


async def signin_form(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    return _form(request, hub, None, 200)


def _form(request: Request, hub: Hub, error: str | None, status: int,
          **params: object) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "signin.html", status, signin_csrf=token, error=error,
                      error_params=params, next=_safe_next(request.query_params.get("next")))
    _cookie(response, hub, SIGNIN_COOKIE, token, 1800)
    return response


async def signin(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    form = await request.form()
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    if not expected or not secrets.compare_digest(str(form.get("csrf", "")), expected):
        return _form(request, hub, "csrf_failed", 403)
    username = str(form.get("username", "")).strip().lower()[:64]
    password = str(form.get("password", ""))[:1024]
    address = request.client.host if request.client else "?"
    keys = [f"user:{username}", f"addr:{address}"]
    wait = hub.throttle.blocked_for(keys)
    if wait > 0:
        return _form(request, hub, "too_many_attempts", 429, minutes=math.ceil(wait / 60))
    user = await asyncio.to_thread(hub.people.check, username, password)
    if user is None:
        hub.throttle.failed(keys)
        return _form(request, hub, "bad_credentials", 401)
    hub.throttle.succeeded([f"user:{username}"])
    token, _ = await asyncio.to_thread(hub.people.open_session, user)
    response = RedirectResponse(_safe_next(str(form.get("next", "/"))), status_code=303)
    _cookie(response, hub, SESSION_COOKIE, token, int(hub.config.web.session_hours * 3600))
    response.delete_cookie(SIGNIN_COOKIE, path="/")
    return response


async def signout(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    token = request.cookies.get(SESSION_COOKIE)
    session = await asyncio.to_thread(hub.people.session, token)
    form = await request.form()
    if session is not None and secrets.compare_digest(str(form.get("csrf", "")),
                                                      session.csrf):
        await asyncio.to_thread(hub.people.close_session, token)
    response = RedirectResponse("/entrar", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def choose_language(request: Request) -> Response:
    """Switch to the other language (a link, so it changes nothing but the cookie)."""
    hub: Hub = request.app.state.hub
    wanted = request.query_params.get("l")
    if wanted not in LANGUAGES:
        wanted = "en" if language(request, hub) == "es" else "es"
    response = RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    response.set_cookie(LANG_COOKIE, wanted, max_age=365 * 86400, samesite="lax", path="/",
                        secure=hub.config.web.secure_cookies)
    return response


def routes() -> list[BaseRoute]:
    return [
        Route("/entrar", signin_form, methods=["GET"]),
        Route("/entrar", signin, methods=["POST"]),
        Route("/salir", signout, methods=["POST"]),
        Route("/idioma", choose_language, methods=["GET"]),
    ]
