"""Every response an api test receives must match the OpenAPI document (tests/openapi_check.py).

The check wraps ``FlaskClient.open``, through which every request of a test client goes
(``get``, ``post``…, and each hop of ``follow_redirects``), so no test has to ask for it.
A mismatch fails the test at the request that caused it, with the method, path, status and
what broke. A request made from another thread fails the test when it ends.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.openapi_check import ResponseMismatch, check_response


@pytest.fixture(autouse=True)
def responses_match_the_openapi_document(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    original = FlaskClient.open
    from_threads: list[ResponseMismatch] = []

    def open_and_check(self: FlaskClient, *args: Any, **kwargs: Any) -> Any:
        response = original(self, *args, **kwargs)
        try:
            check_response(self.application, response)
        except ResponseMismatch as mismatch:
            if threading.current_thread() is not threading.main_thread():
                from_threads.append(mismatch)
            raise
        return response

    monkeypatch.setattr(FlaskClient, "open", open_and_check)
    yield
    if from_threads:
        pytest.fail("\n\n".join(str(mismatch) for mismatch in from_threads), pytrace=False)
