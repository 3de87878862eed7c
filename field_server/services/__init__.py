"""One function per operation: what the API's views, the pages and the commands all call.

A service takes plain inputs (the ``Caller`` with its scope, ``now``, the parsed body, the
``Settings`` it needs) and returns plain data (dataclasses, dicts, lists); it never touches
``request``, ``g`` or ``current_app``. Reads call store/ and domain/; every write runs
under ``writes.run_write``, which owns the transaction, the figures, the change stamp, the
audit rows and the retry on a PostgreSQL deadlock. docs/architecture.md shows where each
kind of code goes.
"""
