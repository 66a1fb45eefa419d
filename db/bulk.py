"""PostgreSQL COPY helpers for bulk loads (psycopg 3 raw connections).

ORM inserts cost a round trip and Python object per row; COPY streams rows in
text format, which is what makes loading a million claims take minutes.
Callers pass the raw DBAPI connection of their session
(``session.connection().connection``) so the load joins the session's
transaction.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from psycopg import sql


def create_staging_table(dbapi_conn: Any, name: str, target: str, columns: Sequence[str],
                         extra_columns: Sequence[tuple[str, str]] = ()) -> None:
    """(Re)create an empty temporary table with ``columns`` typed as in
    ``target`` plus ``extra_columns`` ((name, SQL type) pairs).

    Built with CREATE TABLE AS ... WITH NO DATA rather than LIKE so that the
    target's NOT NULL, defaults and constraints do not apply to staged rows.
    """
    select_list = [sql.Identifier(c) for c in columns]
    select_list += [sql.SQL("NULL::{} AS {}").format(sql.SQL(typ), sql.Identifier(col)) for col, typ in extra_columns]
    with dbapi_conn.cursor() as cur:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
        cur.execute(sql.SQL("CREATE TEMP TABLE {} AS SELECT {} FROM {} WITH NO DATA").format(
            sql.Identifier(name), sql.SQL(", ").join(select_list), sql.Identifier(target)))


def copy_rows(dbapi_conn: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY ``rows`` (tuples in ``columns`` order; None is NULL) into ``table``.
    Returns the number of rows written."""
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
    count = 0
    with dbapi_conn.cursor() as cur, cur.copy(stmt) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def drop_table(dbapi_conn: Any, name: str) -> None:
    with dbapi_conn.cursor() as cur:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
