"""JSON for every response, encoded with orjson.

Encoding a pull page of 500 records was the largest single cost of a pull with the standard
library's encoder. orjson writes the same document: compact, UTF-8 (Vietnamese stays
readable, never ``\\u`` escapes), keys in the order the code built them. Values it does not
know (a Decimal, a date subclass the code forgot to format) fall back to Flask's own rules.
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider


class OrjsonProvider(DefaultJSONProvider):
    ensure_ascii = False
    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs.get("indent") or kwargs.get("sort_keys"):
            return super().dumps(obj, **kwargs)  # pretty output asked for: the slow path
        return orjson.dumps(obj, default=self.default, option=orjson.OPT_NON_STR_KEYS).decode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        # Flask types a provider's app as its sans-IO base, whose response class takes no
        # body; this provider is only installed on a Flask app (field_server/__init__.py).
        app = cast(Flask, self._app)
        return app.response_class(
            orjson.dumps(obj, default=self.default, option=orjson.OPT_NON_STR_KEYS) + b"\n",
            mimetype=self.mimetype,
        )
