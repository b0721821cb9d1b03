"""The data layer: every SQL statement of the cloud lives in this package, one module per
domain (identity, reports, members, kiosks, users, gyms, voice, classes, progress, knowledge,
alerts, audit, health, rate limits; the conversation pipeline's: pipeline, analytics,
alert_lifecycle, jobs, delivery, notifications, stewardship — the worker's run as
`jarvis_worker` through private definer functions, docs/PIPELINE.md).

A data function takes a connection (`cloud_api.db.database.Conn`) and plain values, runs its
statements and returns rows, dataclasses or domain exceptions — never HTTP. Who may touch
what is the connection's business: a route passes its request's RLS-scoped transaction
(`Database.transaction(claims)`), the CLI an operator's connection (`db.admin`). Routes
validate, call, map; `tests/unit/test_sql_placement.py` fails when SQL appears elsewhere.
"""
