"""The tables of the results database, one schema for sqlite and PostgreSQL (the migrations build it)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, LargeBinary, MetaData, Table, Text, false

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

# One row per measured cell: `key` (results.BenchmarkConfig.key) covers hardware, software, model identity, variant
# and settings, so two machines writing the same cell at once keep one row.
records = Table(
    "records",
    metadata,
    Column("key", Text, primary_key=True),
    Column("kind", Text, nullable=False),  # model | peak
    Column("pair", Text, nullable=False, server_default=""),
    Column("hardware", Text, nullable=False),  # HardwareInfo.fingerprint
    Column("software", Text, nullable=False),  # SoftwareInfo.fingerprint
    Column("origin", Text, nullable=False),  # measured | reference | imported: <file>
    Column("stored_at", Text, nullable=False),
    Column("payload", Text, nullable=False),  # the record as JSON
    Index("records_pair", "kind", "pair"),
)

# Background jobs (benchmark runs, head importance, live distillation) on any backend: every dashboard process and
# every machine reads the same rows.
jobs = Table(
    "jobs",
    metadata,
    Column("id", Text, primary_key=True),
    Column("kind", Text, nullable=False),  # benchmark | heads | live
    Column("request", Text, nullable=False),  # the kind's request as JSON
    Column("target", Text, nullable=False, server_default=""),  # a hardware identity, or "" for any machine
    Column("backend", Text, nullable=False),  # local | ray
    Column("owner", Text, nullable=False, server_default=""),  # the session that started it (may stop it)
    Column("state", Text, nullable=False),  # queued | running | finished | failed | stopped
    Column("created", Float, nullable=False),
    Column("started", Float),
    Column("updated", Float, nullable=False),  # the worker's heartbeat while running
    Column("host", Text, nullable=False, server_default=""),  # where it runs: host name and process id
    Column("pid", Integer, nullable=False, server_default="0"),
    Column("machine", Text, nullable=False, server_default=""),  # the hardware label of that machine
    Column("done", Integer, nullable=False, server_default="0"),
    Column("total", Integer, nullable=False, server_default="0"),
    Column("fraction", Float, nullable=False, server_default="0"),
    Column("current", Text, nullable=False, server_default=""),
    Column("message", Text, nullable=False, server_default=""),
    Column("detail", Text, nullable=False, server_default="{}"),  # the kind's own status as JSON (curves, scores)
    Column("cancel", Boolean, nullable=False, server_default=false()),
    Index("jobs_state", "state", "created"),
)

# Files a job leaves for other machines: a live student made on a cluster node travels to every dashboard this way.
job_files = Table(
    "job_files",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("name", Text, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)
