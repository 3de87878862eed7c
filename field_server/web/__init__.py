"""The web pages for supervisors, district officers and canvassers (docs/web.md).

Server-rendered pages under the paths of the API contract's §9, signed in with a session
cookie, every form carrying a CSRF token. Every page calls the same service operations as
the API, so no figure or rule has a second implementation here: a view parses a form or a
query, calls one or two services and renders a template.

``init_web`` wires what the pages need into the app: Flask-Babel (Vietnamese by default,
English by a remembered switch), Flask-WTF's CSRF check (for this blueprint only: the API
authenticates with bearer tokens, which a browser never sends by itself) and the blueprint.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)


def init_web(app: Flask) -> None:
    from flask_babel import Babel
    from flask_wtf.csrf import CSRFProtect

    from . import formats, session

    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked in session.before_page
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the session's own lifetime bounds it
    # Flask-WTF would also demand a same-origin Referer under HTTPS, which the pages'
    # Referrer-Policy (no-referrer) never sends: the token and SameSite=Lax are the defence.
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    # A working day in the field; a new login after that.
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", timedelta(hours=12))
    app.session_interface = session.PageSessionInterface()
    CSRFProtect(app)
    Babel(app, locale_selector=session.page_language)
    formats.register(app)

    from . import (  # noqa: F401  (routes on bp)
        views_app,
        views_auth,
        views_conflicts,
        views_district,
        views_people,
        views_review,
        views_units,
        views_visits,
    )

    app.register_blueprint(bp)
