"""Authentication and authorisation: the caller behind a bearer token, roles and scope,
and the /api/v1/auth endpoints as their own blueprint (``views.bp``, registered by
``create_app``). The session rules themselves are services/sessions.py.
"""
