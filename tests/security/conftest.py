"""Fixtures for the security checklist tests (docs/security.md).

Every response these tests receive is checked against the OpenAPI document, as in
tests/api: an attack must be answered with a documented status and the error envelope.
"""

from __future__ import annotations

from tests.api.conftest import responses_match_the_openapi_document

__all__ = ["responses_match_the_openapi_document"]
