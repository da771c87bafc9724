"""Store: the one results database (sqlite file or PostgreSQL) on SQLAlchemy, its Alembic migrations and the job rows.
May import core and third-party packages (SQLAlchemy, Alembic; psycopg only for PostgreSQL)."""
