"""Flask-SQLAlchemy glue: a scoped session per request, removed at teardown
(uncommitted work is rolled back), and ``unit_of_work`` for the one commit."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from db.session import make_session_factory

db = SQLAlchemy(session_options={"expire_on_commit": False})


class WriteConflict(Exception):
    """Another transaction changed the same claim first (its version moved on)."""


class WriteFailed(Exception):
    """The database refused the write; nothing of it was saved."""


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """The one commit of a request or callback. Database exceptions become
    WriteConflict / WriteFailed so callers above services never handle
    SQLAlchemy's own types."""
    session = db.session
    try:
        yield session
        session.commit()
    except StaleDataError as exc:
        session.rollback()
        raise WriteConflict(str(exc)) from exc
    except SQLAlchemyError as exc:
        session.rollback()
        raise WriteFailed(exc.__class__.__name__) from exc
    except BaseException:
        session.rollback()
        raise


def independent_sessions() -> sessionmaker[Session]:
    """Sessions outside the request's scoped session (jobs that commit in steps
    or run in a background thread)."""
    return make_session_factory(db.engine)


def read_session() -> Session:
    return db.session
