"""Flask-SQLAlchemy glue: a scoped session per request, removed at teardown
(uncommitted work is rolled back), and ``unit_of_work`` for the one commit."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Session

db = SQLAlchemy(session_options={"expire_on_commit": False})


@contextmanager
def unit_of_work() -> Iterator[Session]:
    session = db.session
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def read_session() -> Session:
    return db.session
