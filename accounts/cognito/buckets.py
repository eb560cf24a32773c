"""The quota buckets' state, one database row per category, shared by every worker on every machine.

SQLite has one writer at a time, so a read-then-write in a transaction is safe there. PostgreSQL takes the
row with SELECT ... FOR UPDATE on a connection of this thread's own (never inside the caller's transaction,
which would hold the row for as long as the caller's work), and reads the time from the server, so that
machines with different clocks share one schedule.
"""

import threading
import time

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

from accounts.cognito.quotas import Bucket, category_rate, fresh, take, throttled
from accounts.models import QuotaBucket

clock = None  # tests put a fake clock (seconds) here; else time.time() on SQLite, the server's on PostgreSQL
_local = threading.local()
_TABLE = QuotaBucket._meta.db_table
_COLUMNS = ("next_at", "factor", "updated_at", "decreased_at")


def _own_connection():
    """Return this thread's own connection for the buckets (PostgreSQL), opening it the first time."""
    own = getattr(_local, "connection", None)
    if own is None:
        own = _local.connection = connections.create_connection(DEFAULT_DB_ALIAS)
    return own


def _change_sqlite(category: str, change) -> object:
    """Apply change(bucket, now) -> (bucket, result) to the category's row on SQLite; return the result."""
    with transaction.atomic():
        now = clock() if clock else time.time()
        row = QuotaBucket.objects.filter(pk=category).first()
        bucket = Bucket(**{name: getattr(row, name) for name in _COLUMNS}) if row else fresh(now)
        bucket, result = change(bucket, now)
        QuotaBucket(category=category, **{name: getattr(bucket, name) for name in _COLUMNS}).save()
    return result


def _change_postgresql(category: str, change) -> object:
    """Apply change(bucket, now) -> (bucket, result) to the category's row, locked, on this thread's connection."""
    with _own_connection().cursor() as cursor:
        cursor.execute("BEGIN")
        try:
            cursor.execute(
                f"INSERT INTO {_TABLE} (category, next_at, factor, updated_at, decreased_at) "
                "VALUES (%s, 0, 1, 0, 0) ON CONFLICT DO NOTHING",
                [category],
            )
            cursor.execute(
                f"SELECT {', '.join(_COLUMNS)}, EXTRACT(EPOCH FROM clock_timestamp()) FROM {_TABLE} "
                "WHERE category = %s FOR UPDATE",
                [category],
            )
            *values, now = (float(value) for value in cursor.fetchone())
            now = clock() if clock else now
            bucket = Bucket(*values) if values[0] else fresh(now)
            bucket, result = change(bucket, now)
            cursor.execute(
                f"UPDATE {_TABLE} SET {', '.join(f'{name} = %s' for name in _COLUMNS)} WHERE category = %s",
                [*(getattr(bucket, name) for name in _COLUMNS), category],
            )
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
    return result


def _change(category: str, change) -> object:
    """Apply a change to a category's bucket on this database's path; return its result."""
    if connection.vendor == "postgresql":
        return _change_postgresql(category, change)
    return _change_sqlite(category, change)


def slot_take(category: str, *, wait: bool) -> float:
    """Take the category's next slot; return the seconds the caller waits for it (0 when it does not wait)."""
    per_second = category_rate(category)
    return _change(category, lambda bucket, now: take(bucket, now=now, per_second=per_second, wait=wait))


def slot_throttled(category: str) -> None:
    """Slow the category's bucket down after Cognito throttled one of its calls."""
    _change(category, lambda bucket, now: (throttled(bucket, now=now), None))


def bucket_state(category: str) -> Bucket:
    """Return the category's bucket (a fresh one before its first call); tests and benchmarks read it."""
    return _change(category, lambda bucket, now: (bucket, bucket))


def buckets_clear() -> None:
    """Forget every bucket's state (benchmarks start each run from fresh buckets)."""
    if connection.vendor == "postgresql":
        with _own_connection().cursor() as cursor:
            cursor.execute(f"DELETE FROM {_TABLE}")
    else:
        QuotaBucket.objects.all().delete()


def buckets_close() -> None:
    """Close this thread's own bucket connection, if it opened one (a worker thread does before it ends)."""
    own = getattr(_local, "connection", None)
    if own is not None:
        own.close()
        _local.connection = None
