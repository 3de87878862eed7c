"""JSON for every response, encoded with orjson; and decoded with it too.

Encoding a pull page of 500 records was the largest single cost of a pull with the standard
library's encoder. orjson writes the same document: compact, UTF-8 (Vietnamese stays
readable, never ``\\u`` escapes), keys in the order the code built them. Values it does not
know (a Decimal, a date subclass the code forgot to format) fall back to Flask's own rules.

Decoding (``request.get_json``, ``app.json.loads``) goes through orjson as well: the standard
module recurses in Python and a document nested thousands deep is a RecursionError, where
orjson answers a ValueError (Flask's 400) past 1,024 levels. Request bodies of the API are
parsed by parsing.py, which also bounds their depth.
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

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if kwargs:
            return super().loads(s, **kwargs)  # options only the standard module knows
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        # Flask types a provider's app as its sans-IO base, whose response class takes no
        # body; this provider is only installed on a Flask app (field_server/__init__.py).
        app = cast(Flask, self._app)
        return app.response_class(
            orjson.dumps(obj, default=self.default, option=orjson.OPT_NON_STR_KEYS) + b"\n",
            mimetype=self.mimetype,
        )
