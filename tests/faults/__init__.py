"""The fault harness (docs/reliability.md): real server processes, real tablet clients, and
faults thrown at them — kill -9 of the server or of single workers, a lossy TCP link, a full
disk, a read-only database, PostgreSQL connections cut — after which no acknowledged visit
may be missing and none may be there twice. Every test here is marked ``e2e``: it starts
server processes (and, on PostgreSQL, creates and drops its own database).

``FIELD_SOAK=1`` turns the short runs of ``make test`` into the long run (``make soak``);
``FIELD_SOAK_KILLS`` sets its kills per database and ``FIELD_SOAK_REPORT`` names a file that
gets each run's figures as one JSON line.
"""
