"""The client list: filters, allow-listed sorting and keyset pagination.

Keyset pagination (`WHERE (key, id) > (last key, last id)`) never repeats or skips
a row when others are added or removed between pages, unlike OFFSET.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime

import peewee as pw

from portal.core.models import CLIENT_STATUSES, SEGMENTS, Client, ClientTag, User
from portal.core.visibility import Scope
from portal.text import clean, fold, parse_id

COUNT_CAP = 10_000
PAGE_SIZES = (25, 50, 100)
# What a visitor may sort by: query parameter -> column. Nothing else reaches SQL.
SORTS: dict[str, pw.Field] = {
    "name": Client.sort_name,
    "city": Client.city,
    "status": Client.status,
    "updated": Client.updated_at,
    "created": Client.created_at,
}
_DATETIME_SORTS = {"updated", "created"}


@dataclass
class ClientFilters:
    q: str = ""
    status: str = ""
    segment: str = ""
    zone: str = ""
    owner: int | None = None
    tag: int | None = None
    # "yes" for suppliers only, "no" for clients that are not suppliers.
    supplier: str = ""
    sort: str = "name"
    descending: bool = False
    size: int = 50
    after: str = ""
    before: str = ""

    @classmethod
    def from_params(cls, params: dict[str, str]) -> ClientFilters:
        """Read query parameters, dropping any value outside the allow-lists."""
        sort = params.get("sort", "name")
        owner = params.get("owner", "")
        size = params.get("size", "")
        return cls(
            q=clean(params.get("q", ""))[:100],
            status=params.get("status", "") if params.get("status") in CLIENT_STATUSES else "",
            segment=params.get("segment", "") if params.get("segment") in SEGMENTS else "",
            zone=clean(params.get("zone", ""))[:100],
            owner=parse_id(owner),
            tag=parse_id(params.get("tag", "")),
            supplier=params.get("supplier", "") if params.get("supplier") in ("yes", "no") else "",
            sort=sort if sort in SORTS else "name",
            descending=params.get("dir") == "desc",
            size=parse_id(size) if parse_id(size) in PAGE_SIZES else 50,
            after=params.get("after", "")[:200],
            before=params.get("before", "")[:200],
        )

    def params(self, **changes: object) -> dict[str, str]:
        """Query parameters reproducing these filters, for links and exports."""
        values = {
            "q": self.q,
            "status": self.status,
            "segment": self.segment,
            "zone": self.zone,
            "owner": str(self.owner or ""),
            "tag": str(self.tag or ""),
            "supplier": self.supplier,
            "sort": self.sort if self.sort != "name" else "",
            "dir": "desc" if self.descending else "",
            "size": str(self.size) if self.size != 50 else "",
        }
        values.update({key: str(value) for key, value in changes.items()})
        return {key: value for key, value in values.items() if value}


@dataclass
class ClientPage:
    rows: list
    total: int
    capped: bool
    cap: int = COUNT_CAP
    next_cursor: str = ""
    previous_cursor: str = ""
    filters: ClientFilters = field(default_factory=ClientFilters)


def filtered_clients(scope: Scope, filters: ClientFilters, query: pw.SelectQuery) -> pw.SelectQuery:
    """Apply the scope and the filters; every list, count and export starts here."""
    query = scope.clients(query)
    # TODO: a trigram index (pg_trgm, SQLite FTS5 trigram) on search_text; LIKE
    # scans every visible row, about 25 ms for a top manager at 100,000 clients.
    for term in fold(filters.q).split()[:5]:
        query = query.where(Client.search_text.contains(term))
    if filters.status:
        query = query.where(Client.status == filters.status)
    if filters.segment:
        query = query.where(Client.segment == filters.segment)
    if filters.zone:
        query = query.where(Client.zone == filters.zone)
    if filters.owner:
        query = query.where(Client.owner == filters.owner)
    if filters.tag:
        tagged = ClientTag.select(ClientTag.client).where(ClientTag.tag == filters.tag)
        query = query.where(Client.id.in_(tagged))
    if filters.supplier:
        query = query.where(Client.is_supplier == (filters.supplier == "yes"))
    return query


def list_columns() -> pw.SelectQuery:
    return Client.select(
        Client.id,
        Client.name,
        Client.kind,
        Client.status,
        Client.segment,
        Client.zone,
        Client.city,
        Client.phone,
        Client.email,
        Client.updated_at,
        Client.created_at,
        Client.sort_name,
        User.name.alias("owner_name"),
    ).join(User, on=(Client.owner == User.id))


def export_columns() -> pw.SelectQuery:
    return Client.select(Client, User.name, User.email).join(User, on=(Client.owner == User.id))


def client_page(scope: Scope, filters: ClientFilters) -> ClientPage:
    key = SORTS[filters.sort]
    base = filtered_clients(scope, filters, list_columns())
    backwards = bool(filters.before) and not filters.after
    cursor = _decode(filters.before if backwards else filters.after, filters.sort)
    # Walking backwards is walking forwards in the opposite order, then flipping.
    descending = filters.descending != backwards
    query = base
    if cursor is not None:
        value, last_id = cursor
        if descending:
            query = query.where((key < value) | ((key == value) & (Client.id < last_id)))
        else:
            query = query.where((key > value) | ((key == value) & (Client.id > last_id)))
    order = (key.desc(), Client.id.desc()) if descending else (key.asc(), Client.id.asc())
    # Plain rows rather than models: a page reads them, nothing saves them.
    rows = list(query.order_by(*order).limit(filters.size + 1).namedtuples())
    more = len(rows) > filters.size
    rows = rows[: filters.size]
    if backwards:
        rows.reverse()

    total = capped_count(scope, filters)
    page = ClientPage(rows=rows, total=total, capped=total > COUNT_CAP, filters=filters)
    if rows:
        has_next = more if not backwards else True
        has_previous = (cursor is not None) if not backwards else more
        if has_next:
            page.next_cursor = _encode(rows[-1], filters.sort)
        if has_previous:
            page.previous_cursor = _encode(rows[0], filters.sort)
    return page


def capped_count(scope: Scope, filters: ClientFilters) -> int:
    """How many match, counting no further than just past the cap."""
    inner = filtered_clients(scope, filters, Client.select(Client.id)).limit(COUNT_CAP + 1)
    return Client.select(pw.fn.COUNT(pw.SQL("*"))).from_(inner.alias("capped")).scalar()


def _encode(row: tuple, sort: str) -> str:
    value = getattr(row, SORTS[sort].name)
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([value, row.id], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, sort: str) -> tuple[object, int] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, last_id = json.loads(base64.urlsafe_b64decode(padded))
        if sort in _DATETIME_SORTS:
            value = datetime.fromisoformat(value)
        if not isinstance(value, (str, datetime)) or parse_id(last_id) is None:
            return None
        return value, last_id
    except (ValueError, TypeError):
        return None
