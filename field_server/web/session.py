"""Who is looking at a page: the session cookie, checked against the user as they are now.

The cookie is Flask's signed session holding the user's id and the ``token_version`` it was
issued under; a deactivated user, or one whose role or units changed, is signed out at their
next page, as their access tokens would be. ``Secure`` is set whenever the page came over
HTTPS (behind a trusted proxy too). POSTs carry a CSRF token, checked before any view runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Flask, current_app, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect

from ..auth.principal import request_cache
from ..auth.scope import scope_of
from ..client_address import client_address
from ..errors import LANGUAGE_COOKIE, ApiError, error_response
from ..paging import PAGE_USER
from ..services import sessions
from ..services.context import Caller
from . import bp

LANGUAGES = ("vi", "en")
F = TypeVar("F", bound=Callable[..., Any])


class PageSessionInterface(SecureCookieSessionInterface):
    """The signed cookie session, ``Secure`` whenever the page itself came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def page_language() -> str:
    """Vietnamese unless the person switched; the choice is remembered in a cookie."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    default = current_app.config.get("DEFAULT_LANGUAGE", "vi")
    return default if default in LANGUAGES else "vi"


def sign_in(user_id: int, version: int) -> None:
    session.clear()  # nothing from before the login survives it
    session["uid"] = user_id
    session["ver"] = version
    session.permanent = True


def sign_out() -> None:
    session.clear()


def page_caller() -> Caller | None:
    """The signed-in person as services take them, or None (and the cookie cleared)."""
    cache = request_cache()  # not flask.g, which requests inside one app context share
    if "page_caller" in cache:
        return cast(Caller | None, cache["page_caller"])
    caller = None
    uid, version = session.get("uid"), session.get("ver")
    if isinstance(uid, int) and isinstance(version, int):
        user = sessions.session_user(uid, version)
        if user is None:
            session.clear()
        else:
            caller = Caller(
                user_id=user.id,
                username=user.username,
                role=user.role,
                scope=scope_of(user.id, user.role),
                address=client_address(),
            )
            cache[PAGE_USER] = user.id  # the pages' cursors are bound to them
    cache["page_caller"] = caller
    return caller


def safe_next(target: str | None) -> str:
    """Where to go after the login: a path of this site only, never another host."""
    if not target:
        return url_for("web.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("web.home")
    return target


def page(*roles: str) -> Callable[[F], F]:
    """A page for these roles (all when none given): others are sent to the login, or get
    403 when signed in with another role."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            caller = page_caller()
            if caller is None:
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            if roles and caller.role not in roles:
                raise ApiError("forbidden")
            return view(caller, *args, **kwargs)

        return cast(F, wrapper)

    return decorate


@bp.before_app_request
def _check_csrf() -> None:
    # Only this blueprint's forms: the API authenticates with bearer tokens instead.
    if request.blueprint == "web" and request.method == "POST":
        csrf = cast(CSRFProtect, current_app.extensions["csrf"])
        csrf.protect()


@bp.app_errorhandler(CSRFError)
def _csrf_refused(_exc: CSRFError) -> Any:
    return error_response(ApiError("csrf_invalid"))


@bp.context_processor
def _page_context() -> dict[str, Any]:
    return {"caller": page_caller(), "page_lang": page_language()}
