"""A download as an HTTP response: the bytes of an export (services/exports.py ``ExportFile``)
streamed as the service yields them, with the same headers whether the API
(api/exports.py) or a page (web/views_district.py) sends it. It lives beside both so that
neither imports the other.
"""

from __future__ import annotations

from flask import Response, stream_with_context

from .services.exports import ExportFile


def send(file: ExportFile) -> Response:
    """The export's bytes as a download, streamed as the service yields them (the rows are
    read while the response is sent, inside the request's context)."""
    response = Response(stream_with_context(file.chunks), content_type=file.content_type)
    response.headers["Content-Disposition"] = file.disposition
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
