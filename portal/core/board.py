"""The opportunities board: one column per stage of a pipeline, with its totals.

Open opportunities stay on the board; won and lost ones stay for
`CLOSED_DAYS` after closing, so a deal just won can still be seen there. Every
column's totals count all of its opportunities, in `Decimal`, even past the
cards it shows: the weighted total is the sum of amount × probability, divided
by 100 and rounded half-up to the cent once, at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from portal.core.models import Client, Opportunity, Pipeline, Stage, User
from portal.core.pipelines import label, stages_of
from portal.core.visibility import Scope
from portal.text import parse_id

CLOSED_DAYS = 30
# Past this many cards a column says how many more there are; the filters narrow it.
CARDS_PER_COLUMN = 50
_CENT = Decimal("0.01")


@dataclass
class Column:
    stage: Stage
    name: str
    cards: list = field(default_factory=list)
    count: int = 0
    total: Decimal = Decimal("0.00")
    # The sum of amount × probability (percent points); see `weighted`.
    _points: Decimal = Decimal(0)

    @property
    def weighted(self) -> Decimal:
        return (self._points / 100).quantize(_CENT, rounding=ROUND_HALF_UP)

    @property
    def more(self) -> int:
        return self.count - len(self.cards)

    def add(self, card: Opportunity) -> None:
        self.count += 1
        self.total += card.amount
        self._points += card.amount * card.probability
        if len(self.cards) < CARDS_PER_COLUMN:
            self.cards.append(card)


def columns(
    scope: Scope,
    pipeline: Pipeline,
    today: date,
    *,
    owner: int | None = None,
    only: set[int] | None = None,
) -> list[Column]:
    """The pipeline's columns in order (or only the stages in `only`), filled in one query."""
    stages = [s for s in stages_of(pipeline) if only is None or s.id in only]
    by_stage = {stage.id: Column(stage, label(stage)) for stage in stages}
    if not by_stage:
        return []
    query = (
        Opportunity.select(
            Opportunity.id,
            Opportunity.title,
            Opportunity.amount,
            Opportunity.probability,
            Opportunity.expected_close,
            Opportunity.stage,
            Opportunity.status,
            Opportunity.lost_reason,
            Opportunity.owner,
            Opportunity.client,
            Client.name.alias("client_name"),
            User.name.alias("owner_name"),
        )  # fmt: skip
        .join(Client, on=(Opportunity.client == Client.id))
        .switch(Opportunity)
        .join(User, on=(Opportunity.owner == User.id))
        .where(
            Opportunity.pipeline == pipeline.id,
            Opportunity.stage.in_(list(by_stage)),
            (Opportunity.status == "open")
            | (Opportunity.closed_on >= today - timedelta(days=CLOSED_DAYS)),
        )
        .order_by(Opportunity.expected_close.is_null(), Opportunity.expected_close, Opportunity.id)
    )
    if owner is not None:
        query = query.where(Opportunity.owner == owner)
    for card in scope.opportunities(query).objects():
        by_stage[card.stage_id].add(card)
    return list(by_stage.values())


def owner_of(scope: Scope, text: str | None) -> User | None:
    """The owner filter's person, when they are someone the scope covers."""
    key = parse_id(text)
    if key is None:
        return None
    return scope.users().where(User.id == key).first()
