"""Demo opportunities: what customers bought, and what is still open or was lost.

Drawn after the rest of the demo from a generator of their own, so adding them
changed no other demo row. Most customers buy at a rhythm of their own (monthly
to yearly) and some stopped a while ago; prospects have deals open or lost.
Each opportunity sits in a stage of the default pipeline and has the history
of how it got there, so the board and the funnel have something to show.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from portal.core.models import Client, Opportunity, Stage, StageChange
from portal.core.pipelines import default_pipeline
from portal.database import db

# Days between purchases a customer usually keeps, and how often each rhythm is.
_RHYTHMS = {30: 20, 45: 15, 60: 25, 90: 20, 180: 12, 365: 8}
# Typical order by segment (persons buy small), before each order's own spread.
_ORDER_SIZE = {
    "person": (90, 900),
    "small": (300, 4_000),
    "medium": (2_500, 25_000),
    "large": (15_000, 150_000),
}
_WON_TITLES = (
    "Pedido de reposición",
    "Pedido de temporada",
    "Suministro de material de almacén",
    "Contrato anual de mantenimiento",
    "Ampliación de gama",
    "Pedido urgente",
    "Equipamiento de la nueva nave",
)
_OPEN_TITLES = (
    "Renovación del contrato anual",
    "Propuesta de suministro trimestral",
    "Equipamiento de la nueva nave",
    "Pedido de prueba",
)
# Open stages of the default pipeline a demo deal may sit in, by msgid.
_OPEN_STAGES = ("Qualification", "Needs analysis", "Proposal", "Negotiation")
_LOST_REASONS = ("Precio", "Plazo de entrega", "Eligió a la competencia", "Sin presupuesto")
_SOURCES = ("visit", "phone", "web", "referral")


def create_opportunities(rng: random.Random, now: datetime) -> int:
    """Opportunities for part of the demo's clients; returns how many."""
    columns = (
        Client.id,
        Client.owner,
        Client.status,
        Client.kind,
        Client.segment,
        Client.created_at,
    )
    default = default_pipeline()
    stages = list(Stage.select().where(Stage.pipeline == default).order_by(Stage.position))
    pipeline = _Pipeline(rng, now.date(), stages)
    rows: list[dict[str, object]] = []
    for client in Client.select(*columns).order_by(Client.id).namedtuples():
        rows += pipeline.of(client)
    if rows:
        first = Opportunity.select(Opportunity.id).order_by(Opportunity.id.desc()).scalar() or 0
        _insert(Opportunity, rows)
        # A generator of its own, drawn once from the first: the rows above stay as they were.
        history = _history(random.Random(rng.getrandbits(32)), rows, stages, first, now)
        _insert(StageChange, history)
    return len(rows)


def _history(
    rng: random.Random,
    rows: list[dict[str, object]],
    stages: list[Stage],
    after_id: int,
    now: datetime,
) -> list[dict[str, object]]:
    """How each new opportunity got where it is: through the open stages in order."""
    open_ids = [stage.id for stage in stages if stage.kind == "open"]
    ids = (
        Opportunity.select(Opportunity.id)
        .where(Opportunity.id > after_id)
        .order_by(Opportunity.id)
        .tuples()
    )
    history: list[dict[str, object]] = []
    for (key,), row in zip(ids, rows, strict=True):
        stage = row["stage"]
        start: datetime = row["created_at"]  # type: ignore[assignment]
        end = row["updated_at"] if row["status"] != "open" else now
        if stage in open_ids:
            path = open_ids[: open_ids.index(stage) + 1]
        elif row["status"] == "won":
            path = [*open_ids, stage]
        else:
            path = [*open_ids[: rng.randint(1, len(open_ids))], stage]
        span = max(1.0, (end - start).total_seconds())  # type: ignore[operator]
        marks = sorted(rng.uniform(0, span) for _ in path[1:])
        previous = None
        for to_stage, offset in zip(path, [0.0, *marks], strict=True):
            at = start + timedelta(seconds=int(offset))
            history.append({"opportunity": key, "from_stage": previous, "to_stage": to_stage,
                             "user": row["owner"], "at": at})  # fmt: skip
            previous = to_stage
    return history


def _insert(model: type[Opportunity] | type[StageChange], rows: list[dict[str, object]]) -> None:
    """One prepared INSERT run for every row.

    `insert_many` builds the SQL value by value, which doubled the demo's time
    for these ten thousand rows.
    """
    fields = [model._meta.fields[name] for name in rows[0]]
    columns = ", ".join(f'"{field.column_name}"' for field in fields)
    marks = ", ".join([db.param] * len(fields))
    sql = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})'
    values = [tuple(field.db_value(row[field.name]) for field in fields) for row in rows]
    db.cursor().executemany(sql, values)


class _Pipeline:
    """Draws every value from its own generator, client after client in id order."""

    def __init__(self, rng: random.Random, today: date, stages: list[Stage]) -> None:
        self.rng = rng
        self.today = today
        self.stages = {stage.name: stage for stage in stages}
        self.by_kind = {kind: next(s for s in stages if s.kind == kind) for kind in ("won", "lost")}

    def of(self, client: Any) -> list[dict[str, object]]:
        rng = self.rng
        rows = []
        if client.status == "customer" and rng.random() < 0.85:
            rows += self._purchases(client)
        if client.status in ("customer", "prospect") and rng.random() < 0.5:
            rows.append(self._open(client))
        if client.status != "lead" and rng.random() < 0.25:
            rows.append(self._lost(client))
        return rows

    def _purchases(self, client: Any) -> list[dict[str, object]]:
        rng = self.rng
        rhythm = rng.choices(tuple(_RHYTHMS), weights=tuple(_RHYTHMS.values()))[0]
        size = "person" if client.kind == "person" else client.segment or "small"
        usual = rng.uniform(*_ORDER_SIZE[size])
        # Yesterday at the latest; one customer in five stopped buying months ago.
        stopped = rng.randint(200, 500) if rng.random() < 0.2 else 1
        until = self.today - timedelta(days=stopped)
        day = client.created_at.date() + timedelta(days=rng.randint(3, 60))
        rows = []
        while day <= until and len(rows) < 40:
            amount = Decimal(f"{usual * rng.uniform(0.6, 1.5):.2f}")
            rows.append(self._row(client, rng.choice(_WON_TITLES), amount, "won", day, 100))
            day += timedelta(days=max(1, round(rng.gauss(rhythm, rhythm / 4))))
        return rows

    def _open(self, client: Any) -> dict[str, object]:
        rng = self.rng
        stage = self.stages[rng.choice(_OPEN_STAGES)]
        amount = Decimal(f"{rng.uniform(500, 40_000):.2f}")
        title = rng.choice(_OPEN_TITLES)
        row = self._row(client, title, amount, "open", None, stage.probability)
        row.update(stage=stage.id, expected_close=self.today + timedelta(days=rng.randint(7, 120)))
        return row

    def _lost(self, client: Any) -> dict[str, object]:
        rng = self.rng
        since = client.created_at.date()
        day = since + timedelta(days=rng.randint(1, max(1, (self.today - since).days - 1)))
        amount = Decimal(f"{rng.uniform(500, 30_000):.2f}")
        row = self._row(client, rng.choice(_OPEN_TITLES), amount, "lost", day, 0)
        row["lost_reason"] = rng.choice(_LOST_REASONS)
        return row

    def _row(
        self,
        client: Any,
        title: str,
        amount: Decimal,
        status: str,
        closed_on: date | None,
        probability: int,
    ) -> dict[str, object]:
        """One opportunity; every row carries every column, as insert_many needs."""
        opened = (closed_on or self.today) - timedelta(days=self.rng.randint(5, 45))
        created = datetime.combine(max(opened, client.created_at.date()), time(9))
        return {
            "client": client.id,
            "owner": client.owner,
            "title": title,
            "amount": amount,
            "status": status,
            "pipeline": self.by_kind["won"].pipeline_id,
            "stage": self.by_kind[status].id if status != "open" else None,
            "probability": probability,
            "source": self.rng.choice(_SOURCES),
            "expected_close": closed_on,
            "closed_on": closed_on,
            "lost_reason": "",
            "created_at": created,
            "updated_at": datetime.combine(closed_on, time(17)) if closed_on else created,
        }
