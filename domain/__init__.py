"""The pure layer: protocol data types and domain rules. No Flask, no SQLAlchemy, no I/O.

Everything here takes time and ids as arguments and raises errors that carry a code, so it
can be tested table-driven without an app. (The sync protocol itself arrives with issue 3.)
"""
