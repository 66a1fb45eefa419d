"""Named queue filters a user keeps for themselves (one list per page)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import SavedFilter
from services import audit
from services.access import NotFound
from services.queues import InvalidFilter, QueueFilters, parse_filters

PAGES = ("queues", "my_work")
MAX_NAME = 80
MAX_PER_PAGE = 50


@dataclass(frozen=True)
class SavedFilterView:
    id: int
    name: str
    filters: dict


def _page(page) -> str:
    if page not in PAGES:
        raise InvalidFilter("Unknown page for saved filters.")
    return page


def _name(name) -> str:
    if not isinstance(name, str):
        raise InvalidFilter("Give the filter a name.")
    name = " ".join(name.split())
    if not 1 <= len(name) <= MAX_NAME:
        raise InvalidFilter(f"A filter name has 1 to {MAX_NAME} characters.")
    return name


def list_saved(session: Session, user, page: str) -> list[SavedFilterView]:
    rows = session.scalars(select(SavedFilter).where(SavedFilter.user_id == user.id, SavedFilter.page == _page(page))
                           .order_by(func.lower(SavedFilter.name)))
    return [SavedFilterView(r.id, r.name, r.filters) for r in rows]


def save_filter(session: Session, user, page: str, name, filters: QueueFilters) -> SavedFilterView:
    """Save (or overwrite, by name) the user's filters for a page."""
    page, name = _page(page), _name(name)
    data = filters.to_json()
    existing = session.scalar(select(SavedFilter).where(SavedFilter.user_id == user.id, SavedFilter.page == page,
                                                        SavedFilter.name == name))
    if existing is None:
        count = session.scalar(select(func.count()).select_from(SavedFilter)
                               .where(SavedFilter.user_id == user.id, SavedFilter.page == page))
        if count >= MAX_PER_PAGE:
            raise InvalidFilter(f"You already have {MAX_PER_PAGE} saved filters here; delete one first.")
        existing = SavedFilter(user_id=user.id, page=page, name=name, filters=data)
        session.add(existing)
        before = None
    else:
        before, existing.filters = existing.filters, data
    session.flush()
    audit.record(session, actor=user.email, actor_id=user.id, action="saved_filter.save",
                 target_type="saved_filter", target_id=existing.id, before=before,
                 after={"page": page, "name": name, "filters": data})
    return SavedFilterView(existing.id, existing.name, data)


def _own(session: Session, user, filter_id) -> SavedFilter:
    if isinstance(filter_id, bool) or not isinstance(filter_id, (int, str)):
        raise NotFound("That saved filter does not exist.")
    try:
        filter_id = int(filter_id)
    except ValueError:
        raise NotFound("That saved filter does not exist.") from None
    row = session.get(SavedFilter, filter_id) if 0 < filter_id < 2**31 else None
    # Someone else's filter looks exactly like a missing one.
    if row is None or row.user_id != user.id:
        raise NotFound("That saved filter does not exist.")
    return row


def load_filter(session: Session, user, filter_id, *, lines: tuple[str, ...] | None = None) -> tuple[str, QueueFilters]:
    """The saved filter's name and its filters, validated again (the stored
    JSON may predate today's rules)."""
    row = _own(session, user, filter_id)
    return row.name, parse_filters(row.filters, lines=lines)


def delete_filter(session: Session, user, filter_id) -> str:
    row = _own(session, user, filter_id)
    name = row.name
    audit.record(session, actor=user.email, actor_id=user.id, action="saved_filter.delete",
                 target_type="saved_filter", target_id=row.id, before={"page": row.page, "name": name,
                                                                        "filters": row.filters})
    session.delete(row)
    session.flush()
    return name
