"""Authentication and authorisation: passwords, tokens, the caller, roles and scope.

The /auth endpoints register on the /api/v1 blueprint from ``views``.
"""
