"""GET /api/v1/openapi.json: the OpenAPI 3.1 document, generated from the views' declared
schemas (field_server/operation.py). Being written (issue 9)."""
