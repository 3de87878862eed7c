"""/login, /logout and the language switch (docs/web.md).

The login goes through the same password check as the API (services/sessions.py
``check_password``), so the failed-login limits are one count for both.
"""

from __future__ import annotations

from typing import Any

from flask import make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..auth.scope import current_session_settings
from ..client_address import client_address
from ..clock import utcnow
from ..errors import LANGUAGE_COOKIE, ApiError
from ..services import sessions
from . import bp
from .session import LANGUAGES, page_caller, safe_next, sign_in, sign_out

MAX_FIELD = 1024
YEAR = 365 * 24 * 3600


@bp.get("/login")
def login() -> Any:
    if page_caller() is not None:
        return redirect(safe_next(request.args.get("next")))
    return render_template("login.html", next=request.args.get("next", ""))


@bp.post("/login")
def login_post() -> Any:
    username = request.form.get("username", "")[:MAX_FIELD]
    password = request.form.get("password", "")[:MAX_FIELD]
    target = request.form.get("next", "")
    try:
        if not username or not password:
            raise ApiError("invalid_credentials")
        user = sessions.check_password(
            username=username,
            password=password,
            address=client_address(),
            now=utcnow(),
            settings=current_session_settings(),
        )
    except ApiError as refused:
        if refused.code == "rate_limited":
            message = _("Too many failed logins. Try again in a minute.")
        else:
            message = _("Wrong username or password.")
        page = render_template("login.html", next=target, username=username, error=message)
        # The form again, as a page (200); only the limit keeps its 429 and Retry-After.
        status = refused.status if refused.code == "rate_limited" else 200
        return page, status, refused.headers
    sign_in(user.id, user.token_version)
    return redirect(safe_next(target))


@bp.post("/logout")
def logout() -> Any:
    sign_out()
    return redirect(url_for("web.login"))


@bp.post("/language")
def language() -> Any:
    chosen = request.form.get("lang", "")
    response = make_response(redirect(safe_next(request.form.get("next"))))
    if chosen in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, chosen, max_age=YEAR, httponly=True, samesite="Lax",
            secure=request.is_secure,
        )  # fmt: skip
    return response
