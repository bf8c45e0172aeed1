"""The client list: filters, allow-listed sorting and keyset pagination.

Keyset pagination (`WHERE (key, id) > (last key, last id)`) never repeats or skips
a row when others are added or removed between pages, unlike OFFSET.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import peewee as pw

from portal.core.models import CLIENT_STATUSES, SEGMENTS, Client, ClientTag, User
from portal.core.visibility import Scope, client_condition
from portal.statements import Slot, compiled, slots
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


@dataclass(frozen=True)
class _Shape:
    """What decides the SQL text of a list or a count; the values go in slots."""

    rule: str  # the scope's owner rule: all, in, not_in
    owners: int  # how many ids the rule names
    escaped: tuple[bool, ...]  # per search term: whether it had LIKE wildcards to escape
    status: bool
    segment: bool
    zone: bool
    owner: bool
    tag: bool
    supplier: bool


def _search_patterns(q: str) -> list[tuple[str, bool]]:
    """LIKE patterns for the first five words of a search, and whether each was escaped."""
    patterns = []
    for term in fold(q).split()[:5]:
        # A typed % or _ is a character to find, not a wildcard.
        escaped = any(char in term for char in "\\%_")
        if escaped:
            term = term.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
        patterns.append((f"%{term}%", escaped))
    return patterns


def _request(scope: Scope, filters: ClientFilters) -> tuple[_Shape, dict[str, Any]]:
    """The shape of this request's WHERE clause, and the values that fill it."""
    rule, owners = scope.owner_rule()
    patterns = _search_patterns(filters.q)
    shape = _Shape(
        rule=rule,
        owners=len(owners),
        escaped=tuple(escaped for _pattern, escaped in patterns),
        status=bool(filters.status),
        segment=bool(filters.segment),
        zone=bool(filters.zone),
        owner=bool(filters.owner),
        tag=bool(filters.tag),
        supplier=bool(filters.supplier),
    )
    values = {
        "owners": owners,
        "patterns": [pattern for pattern, _escaped in patterns],
        "status": filters.status,
        "segment": filters.segment,
        "zone": filters.zone,
        "owner": filters.owner,
        "tag": filters.tag,
        "supplier": filters.supplier == "yes",
    }
    return shape, values


def _slots(shape: _Shape) -> dict[str, Any]:
    """Slots standing for every value of a shape, to compile its statements."""
    return {
        "owners": slots("owners", shape.owners),
        "patterns": slots("patterns", len(shape.escaped)),
        "status": Slot("status"),
        "segment": Slot("segment"),
        "zone": Slot("zone"),
        "owner": Slot("owner"),
        "tag": Slot("tag"),
        "supplier": Slot("supplier"),
    }


def _where(query: pw.SelectQuery, shape: _Shape, values: dict[str, Any]) -> pw.SelectQuery:
    """The scope and the filters; `values` are the values themselves or their slots."""
    condition = client_condition(shape.rule, values["owners"])
    if condition is not None:
        query = query.where(condition)
    # TODO: a trigram index (pg_trgm, SQLite FTS5 trigram) on search_text; LIKE
    # scans every visible row, about 25 ms for a top manager at 100,000 clients.
    for pattern, escaped in zip(values["patterns"], shape.escaped, strict=True):
        query = query.where(_contains(pattern, escaped))
    if shape.status:
        query = query.where(Client.status == values["status"])
    if shape.segment:
        query = query.where(Client.segment == values["segment"])
    if shape.zone:
        query = query.where(Client.zone == values["zone"])
    if shape.owner:
        query = query.where(Client.owner == values["owner"])
    if shape.tag:
        tagged = ClientTag.select(ClientTag.client).where(ClientTag.tag == values["tag"])
        query = query.where(Client.id.in_(tagged))
    if shape.supplier:
        query = query.where(Client.is_supplier == values["supplier"])
    return query


def _contains(pattern: object, escaped: bool) -> pw.Expression:
    # What peewee's `contains` writes, for a pattern given whole (or as a slot).
    if escaped:
        if not isinstance(pattern, pw.Node):
            pattern = pw.Value(pattern, converter=False)
        backslash = pw.Value("\\", converter=False)
        pattern = pw.NodeList((pattern, pw.SQL("ESCAPE"), backslash))
    return pw.Expression(Client.search_text, pw.OP.ILIKE, pattern)


def filtered_clients(scope: Scope, filters: ClientFilters, query: pw.SelectQuery) -> pw.SelectQuery:
    """Apply the scope and the filters; every list, count and export starts here."""
    shape, values = _request(scope, filters)
    return _where(query, shape, values)


def list_columns(sort: str = "name") -> pw.SelectQuery:
    """What a row of the list shows, and the sort key its cursor needs."""
    columns = [
        Client.id,
        Client.name,
        Client.city,
        Client.status,
        Client.updated_at,
        User.name.alias("owner_name"),
    ]
    # By identity: `in` would compare with peewee's SQL-building ==.
    if all(column is not SORTS[sort] for column in columns):
        columns.append(SORTS[sort])
    return Client.select(*columns).join(User, on=(Client.owner == User.id))


def export_columns() -> pw.SelectQuery:
    return Client.select(Client, User.name, User.email).join(User, on=(Client.owner == User.id))


@compiled
def _list_statement(
    shape: _Shape, sort: str, descending: bool, keyset: bool, size: int
) -> pw.SelectQuery:
    key = SORTS[sort]
    query = _where(list_columns(sort), shape, _slots(shape))
    if keyset:
        value, last_id = Slot("key"), Slot("last_id")
        if descending:
            query = query.where((key < value) | ((key == value) & (Client.id < last_id)))
        else:
            query = query.where((key > value) | ((key == value) & (Client.id > last_id)))
    order = (key.desc(), Client.id.desc()) if descending else (key.asc(), Client.id.asc())
    return query.order_by(*order).limit(size)


@compiled
def _count_statement(shape: _Shape) -> pw.SelectQuery:
    inner = _where(Client.select(Client.id), shape, _slots(shape)).limit(COUNT_CAP + 1)
    return Client.select(pw.fn.COUNT(pw.SQL("*"))).from_(inner.alias("capped")).limit(1)


def client_page(scope: Scope, filters: ClientFilters) -> ClientPage:
    shape, values = _request(scope, filters)
    backwards = bool(filters.before) and not filters.after
    cursor = _decode(filters.before if backwards else filters.after, filters.sort)
    # Walking backwards is walking forwards in the opposite order, then flipping.
    descending = filters.descending != backwards
    statement = _list_statement(
        shape, filters.sort, descending, cursor is not None, filters.size + 1
    )
    if cursor is not None:
        values["key"], values["last_id"] = cursor
    # Plain rows rather than models: a page reads them, nothing saves them.
    rows = statement.rows(**values)
    more = len(rows) > filters.size
    rows = rows[: filters.size]
    if backwards:
        rows.reverse()

    total = _count_statement(shape).scalar(**values)
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
    shape, values = _request(scope, filters)
    return _count_statement(shape).scalar(**values)


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
