"""Opportunities along a pipeline: their form, their moves and what a move changes.

Every change of stage goes through `change_stage`, which keeps the status and
closing day in step with the stage's kind, writes the stage history the funnel
reads and the audit entry, and moves the client up its lifecycle: a lead with
an opportunity is a prospect, and a client whose first opportunity is won is a
customer. Callers have checked that the user may change the opportunity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import peewee as pw

from portal import events
from portal.core import audit, fields
from portal.core.clients import convert, parse_amount
from portal.core.models import STAGE_KINDS, Client, Opportunity, Pipeline, Stage, StageChange, User
from portal.core.visibility import Scope
from portal.database import db, utcnow
from portal.i18n import N_, UserError, current_language, format_number, local_today
from portal.i18n import gettext as _
from portal.text import clean, fold, is_digits, one_line, parse_id

# The default pipeline, as migration 0012 creates it: msgids, translated where shown.
DEFAULT_PIPELINE = N_("Sales")
DEFAULT_STAGES = (
    (N_("Qualification"), 10, "open"),
    (N_("Needs analysis"), 25, "open"),
    (N_("Proposal"), 50, "open"),
    (N_("Negotiation"), 75, "open"),
    (N_("Won"), 100, "won"),
    (N_("Lost"), 0, "lost"),
)
DEFAULT_NAMES = (DEFAULT_PIPELINE, *(name for name, _p, _k in DEFAULT_STAGES))
# A new pipeline starts with these stages, which the administrator renames.
NEW_PIPELINE_STAGES = tuple(s for s in DEFAULT_STAGES if s[0] != "Needs analysis")
SOURCES = {
    "visit": N_("Visit"),
    "phone": N_("Phone"),
    "email": N_("Email"),
    "web": N_("Web"),
    "referral": N_("Referral"),
    "event": N_("Event"),
    "other": N_("Other"),
}
KIND_LABELS = {"open": N_("In progress"), "won": N_("Won"), "lost": N_("Lost")}
# Lifecycle order of a client's status; it only ever moves up from here.
_RANK = {"lead": 0, "prospect": 1, "customer": 2}
TITLE_LIMIT = 200
REASON_LIMIT = 200
NAME_LIMIT = 100


def label(row: Pipeline | Stage) -> str:
    """The name of a pipeline or stage in the reader's language."""
    return _(row.name) if row.translatable else row.name


def all_pipelines() -> list[Pipeline]:
    return list(Pipeline.select().order_by(Pipeline.position, Pipeline.id))


def pipeline_or_default(pipeline_id: object = None) -> Pipeline | None:
    """The pipeline asked for if it exists, else the default one (else the first)."""
    key = parse_id(pipeline_id)
    if key is not None:
        found = Pipeline.get_or_none(Pipeline.id == key)
        if found is not None:
            return found
    return (
        Pipeline.select()
        .order_by(Pipeline.is_default.desc(), Pipeline.position, Pipeline.id)
        .first()
    )


def default_pipeline() -> Pipeline:
    """The default pipeline, created as migration 0012 does when there is none.

    Only a database built from the models rather than migrated lacks it (tests, demo).
    """
    found = Pipeline.get_or_none(Pipeline.is_default == True)  # noqa: E712
    if found is not None:
        return found
    with db.atomic():
        found = Pipeline.create(name=DEFAULT_PIPELINE, is_default=True, translatable=True)
        for position, (name, probability, kind) in enumerate(DEFAULT_STAGES):
            Stage.create(
                pipeline=found, name=name, position=position, probability=probability,
                kind=kind, translatable=True,
            )  # fmt: skip
    return found


def stages_of(pipeline: Pipeline | int) -> list[Stage]:
    key = pipeline if isinstance(pipeline, int) else pipeline.id
    return list(Stage.select().where(Stage.pipeline == key).order_by(Stage.position, Stage.id))


def all_stages() -> list[Stage]:
    """Every stage, pipeline by pipeline, in board order."""
    return list(
        Stage.select(Stage, Pipeline)
        .join(Pipeline)
        .order_by(Pipeline.position, Pipeline.id, Stage.position, Stage.id)
    )


# ------------------------------------------------------------------- the form


@dataclass
class OpportunityForm:
    """A posted opportunity: the raw text, what it converts to and the messages."""

    raw: dict[str, str]
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    stage: Stage | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def _day(text: str) -> Any:
    return fields.parse_date(text, day_first=current_language.get() == "es")


def validate(
    raw: dict[str, str], scope: Scope, stages: list[Stage], current: Opportunity | None = None
) -> OpportunityForm:
    """Check a posted opportunity; the owner must be someone the user may give it to.

    `stages` are those it may be put in: any pipeline's for a new one, its own
    pipeline's for an edit.
    """
    form = OpportunityForm(raw)
    values, errors = form.values, form.errors
    values["title"] = one_line(raw.get("title", ""))
    if not values["title"]:
        errors["title"] = _("The title is required.")
    elif len(values["title"]) > TITLE_LIMIT:
        errors["title"] = _("At most %(n)s characters.", n=TITLE_LIMIT)
    convert(raw, values, errors, "amount", parse_amount, Decimal("0.00"))
    convert(raw, values, errors, "expected_close", _day, None)

    by_id = {stage.id: stage for stage in stages}
    form.stage = by_id.get(parse_id(raw.get("stage", "")) or 0)
    if form.stage is None:
        errors["stage"] = _("Choose one of the options.")
    values["probability"] = form.stage.probability if form.stage else 0
    text = clean(raw.get("probability", "")).removesuffix("%").strip()
    if text:
        if is_digits(text) and 0 <= int(text) <= 100:
            values["probability"] = int(text)
        else:
            errors["probability"] = _("A whole percentage between 0 and 100.")

    values["source"] = raw.get("source", "")
    if values["source"] not in ("", *SOURCES):
        errors["source"] = _("Choose one of the options.")
    values["lost_reason"] = clean(raw.get("lost_reason", ""))
    if len(values["lost_reason"]) > REASON_LIMIT:
        errors["lost_reason"] = _("At most %(n)s characters.", n=REASON_LIMIT)
    elif form.stage is not None and form.stage.kind == "lost" and not values["lost_reason"]:
        errors["lost_reason"] = _("Say why it was lost.")

    owner_id = parse_id(raw.get("owner", ""))
    owner = scope.may_own().where(User.id == (owner_id or 0)).first()
    if owner is None and current is not None and owner_id == current.owner_id:
        # Keeping an owner the user could not choose today (an assistant's team) is fine.
        owner = User.get_by_id(current.owner_id)
    if owner is None:
        errors["owner"] = _("Choose one of the options.")
    values["owner"] = owner
    return form


def form_from(opportunity: Opportunity) -> dict[str, str]:
    amount = opportunity.amount
    return {
        "title": opportunity.title,
        "amount": fields_number(amount),
        "expected_close": opportunity.expected_close.isoformat()
        if opportunity.expected_close
        else "",
        "stage": str(opportunity.stage_id),
        "probability": str(opportunity.probability),
        "source": opportunity.source,
        "lost_reason": opportunity.lost_reason,
        "owner": str(opportunity.owner_id),
        "updated": version_of(opportunity),
    }


def fields_number(amount: Decimal) -> str:
    """An amount as the form shows it back: plain digits and the language's decimal mark."""
    text = f"{amount:.2f}"
    return text.replace(".", ",") if current_language.get() == "es" else text


def version_of(opportunity: Opportunity) -> str:
    """What the edit form carries to notice that someone else saved in between."""
    return opportunity.updated_at.isoformat()


# ------------------------------------------------------------- changing them


def create_opportunity(
    client: Client, form: OpportunityForm, *, actor: User, ip: str = ""
) -> Opportunity:
    """Save a new opportunity on `client`, with its first history row."""
    stage = form.stage
    assert stage is not None
    values = {**form.values}
    if stage.kind != "lost":
        values["lost_reason"] = ""
    now = utcnow()
    with db.atomic():
        opportunity = Opportunity.create(
            client=client, pipeline=stage.pipeline_id, stage=stage, status=stage.kind,
            closed_on=local_today() if stage.kind != "open" else None,
            created_at=now, updated_at=now, **values,
        )  # fmt: skip
        StageChange.create(opportunity=opportunity, to_stage=stage, user=actor, at=now)
        _announce(opportunity.id, None, stage.id, actor)
        audit.record(
            "opportunities.created",
            actor=actor,
            target=opportunity,
            label=opportunity.title,
            after={"client": client.id, "stage": stage.name, "amount": opportunity.amount},
            ip=ip,
        )
        _move_client_up(client.id, won=stage.kind == "won", actor=actor, ip=ip, exclude=None)
    return opportunity


def _announce(opportunity_id: int, before: int | None, after: int, actor: User | None) -> None:
    events.emit(
        "opportunity_stage_changed",
        opportunity_id=opportunity_id,
        from_stage_id=before,
        to_stage_id=after,
        actor_id=actor.id if actor is not None else None,
    )


def update_opportunity(
    opportunity: Opportunity, form: OpportunityForm, version: str, *, actor: User, ip: str = ""
) -> bool:
    """Save an edit unless someone saved first (False); a new stage is a move."""
    stage = form.stage
    assert stage is not None
    changes = {**form.values, "owner": form.values["owner"].id}
    if stage.id != opportunity.stage_id and changes["probability"] == opportunity.probability:
        # The form came back with the old stage's figure: the new stage's applies.
        changes["probability"] = stage.probability
    if stage.kind != "lost":
        changes["lost_reason"] = ""
    try:
        seen = datetime.fromisoformat(version)
    except ValueError:
        return False
    with db.atomic():
        updated = (
            Opportunity.update(**changes, updated_at=utcnow())
            .where(Opportunity.id == opportunity.id, Opportunity.updated_at == seen)
            .execute()
        )
        if updated != 1:
            return False
        if stage.id != opportunity.stage_id:
            fresh = Opportunity.get_by_id(opportunity.id)
            change_stage(
                fresh, stage, lost_reason=changes["lost_reason"], actor=actor, ip=ip,
                probability=changes["probability"],
            )  # fmt: skip
    return True


def change_stage(
    opportunity: Opportunity,
    stage: Stage,
    *,
    lost_reason: str = "",
    actor: User | None,
    ip: str = "",
    probability: int | None = None,
) -> None:
    """Move to `stage` of the same pipeline; raises UserError when it may not go there.

    Moving takes the stage's probability (unless one is given), sets the
    closing day when won or lost and clears it when reopened.
    """
    if stage.pipeline_id != opportunity.pipeline_id:
        raise UserError(N_("Choose one of the options."))
    reason = clean(lost_reason)[:REASON_LIMIT] or (
        opportunity.lost_reason if stage.kind == "lost" else ""
    )
    if stage.kind == "lost" and not reason:
        raise UserError(N_("Say why it was lost."))
    previous = opportunity.stage_id
    if previous == stage.id:
        return
    old = Stage.get_by_id(previous)
    changes = {
        "stage": stage.id,
        "status": stage.kind,
        "probability": stage.probability if probability is None else probability,
        "closed_on": local_today() if stage.kind != "open" else None,
        "lost_reason": reason if stage.kind == "lost" else "",
        "updated_at": utcnow(),
    }
    with db.atomic():
        Opportunity.update(**changes).where(Opportunity.id == opportunity.id).execute()
        StageChange.create(
            opportunity=opportunity.id, from_stage=previous, to_stage=stage, user=actor
        )
        _announce(opportunity.id, previous, stage.id, actor)
        audit.record(
            "opportunity.stage_changed",
            actor=actor,
            target=opportunity,
            label=opportunity.title,
            before={"stage": old.name, "status": old.kind},
            after={
                "stage": stage.name,
                "status": stage.kind,
                "lost_reason": changes["lost_reason"],
            },
            ip=ip,
        )
        if stage.kind == "won":
            _move_client_up(
                opportunity.client_id, won=True, actor=actor, ip=ip, exclude=opportunity.id
            )
    for name, value in changes.items():
        setattr(opportunity, name, value)


def delete_opportunity(opportunity: Opportunity, *, actor: User, ip: str = "") -> None:
    before = {
        "client": opportunity.client_id,
        "title": opportunity.title,
        "amount": opportunity.amount,
        "status": opportunity.status,
    }
    with db.atomic():
        opportunity.delete_instance()
        audit.record(
            "opportunities.deleted",
            actor=actor,
            target=opportunity,
            label=opportunity.title,
            before=before,
            ip=ip,
        )


def _move_client_up(
    client_id: int, *, won: bool, actor: User | None, ip: str, exclude: int | None
) -> None:
    """A lead with an opportunity becomes a prospect; a first won deal, a customer."""
    client = Client.get_by_id(client_id)
    target = "customer" if won else "prospect"
    if _RANK.get(client.status, 0) >= _RANK[target]:
        return
    if won:
        others = Opportunity.select().where(
            Opportunity.client == client_id, Opportunity.status == "won"
        )
        if exclude is not None:
            others = others.where(Opportunity.id != exclude)
        if others.exists():
            return
    (
        Client.update(status=target, version=Client.version + 1, updated_at=utcnow())
        .where(Client.id == client_id)
        .execute()
    )
    audit.record(
        "clients.status.changed",
        actor=actor,
        target=client,
        before={"status": client.status},
        after={"status": target},
        ip=ip,
    )


# ----------------------------------------------------------- configuration


def _name(raw: dict[str, str]) -> str:
    name = one_line(raw.get("name", ""))
    if not name:
        raise UserError(N_("The name is required."))
    if len(name) > NAME_LIMIT:
        raise UserError(N_("At most %(n)s characters."), n=NAME_LIMIT)
    return name


def _refuse_taken(name: str, rows: list[Pipeline] | list[Stage], own_id: int | None) -> None:
    """Refuse a name another row already has, whatever its case and accents.

    Two "Propuesta" columns on one board, or two "Ventas" in the pipeline menu,
    could not be told apart. A default name is compared as stored and as shown.
    """
    wanted = fold(name)
    for row in rows:
        if row.id != own_id and wanted in (fold(row.name), fold(label(row))):
            raise UserError(N_("Another one already has this name: choose a different one."))


def _stage_values(raw: dict[str, str]) -> dict[str, Any]:
    text = clean(raw.get("probability", "")).removesuffix("%").strip() or "0"
    if not (is_digits(text) and 0 <= int(text) <= 100):
        raise UserError(N_("A whole percentage between 0 and 100."))
    kind = raw.get("kind", "open")
    if kind not in STAGE_KINDS:
        raise UserError(N_("Choose one of the options."))
    return {"name": _name(raw), "probability": int(text), "kind": kind}


def create_pipeline(raw: dict[str, str], *, actor: User, ip: str = "") -> Pipeline:
    name = _name(raw)
    _refuse_taken(name, all_pipelines(), None)
    with db.atomic():
        last = Pipeline.select(pw.fn.MAX(Pipeline.position)).scalar() or 0
        pipeline = Pipeline.create(name=name, position=last + 1)
        for position, (stage, probability, kind) in enumerate(NEW_PIPELINE_STAGES):
            Stage.create(
                pipeline=pipeline, name=stage, position=position, probability=probability,
                kind=kind, translatable=True,
            )  # fmt: skip
        audit.record("pipelines.created", actor=actor, target=pipeline, ip=ip)
    return pipeline


def rename_pipeline(pipeline: Pipeline, raw: dict[str, str], *, actor: User, ip: str = "") -> None:
    name = _name(raw)
    if name == label(pipeline):
        return
    _refuse_taken(name, all_pipelines(), pipeline.id)
    with db.atomic():
        before = {"name": pipeline.name}
        pipeline.name, pipeline.translatable = name, False
        pipeline.save()
        audit.record(
            "pipelines.updated", actor=actor, target=pipeline, before=before,
            after={"name": name}, ip=ip,
        )  # fmt: skip


def add_stage(pipeline: Pipeline, raw: dict[str, str], *, actor: User, ip: str = "") -> Stage:
    values = _stage_values(raw)
    _refuse_taken(values["name"], stages_of(pipeline), None)
    with db.atomic():
        last = Stage.select(pw.fn.MAX(Stage.position)).where(Stage.pipeline == pipeline.id).scalar()
        stage = Stage.create(pipeline=pipeline, position=(last or 0) + 1, **values)
        audit.record("pipelines.stage.created", actor=actor, target=stage, after=values, ip=ip)
    return stage


def update_stage(stage: Stage, raw: dict[str, str], *, actor: User, ip: str = "") -> None:
    """Rename a stage, or change its probability or kind.

    The kind of a stage holding opportunities stays: their status follows it.
    """
    values = _stage_values(raw)
    _refuse_taken(values["name"], stages_of(stage.pipeline_id), stage.id)
    if values["kind"] != stage.kind and stage.opportunities.exists():
        raise UserError(
            N_("Move its opportunities to another stage before changing what it means.")
        )
    before = {"name": stage.name, "probability": stage.probability, "kind": stage.kind}
    if values["name"] == label(stage):
        values["name"] = stage.name
    else:
        stage.translatable = False
    with db.atomic():
        for name, value in values.items():
            setattr(stage, name, value)
        stage.save()
        changed_before, changed_after = audit.changes(before, values)
        if changed_after:
            audit.record(
                "pipelines.stage.updated", actor=actor, target=stage,
                before=changed_before, after=changed_after, ip=ip,
            )  # fmt: skip


def shift_stage(stage: Stage, step: int) -> None:
    """Swap the stage with its neighbour before (-1) or after (+1) it on the board."""
    stages = stages_of(stage.pipeline_id)
    index = next(i for i, s in enumerate(stages) if s.id == stage.id)
    other = index + step
    if not 0 <= other < len(stages):
        return
    stages[index], stages[other] = stages[other], stages[index]
    with db.atomic():
        for position, row in enumerate(stages):
            if row.position != position:
                Stage.update(position=position).where(Stage.id == row.id).execute()


# TODO: deleting a stage that opportunities passed through also deletes those
# stage changes (`StageChange.to_stage` cascades), so the funnel forgets them;
# keep them under the stage's name instead (needs a migration of that column).
def delete_stage(stage: Stage, *, actor: User, ip: str = "") -> None:
    if stage.opportunities.exists():
        raise UserError(N_("This stage still holds opportunities: move them first."))
    if len(stages_of(stage.pipeline_id)) <= 1:
        raise UserError(N_("A pipeline needs at least one stage."))
    with db.atomic():
        stage.delete_instance()
        audit.record(
            "pipelines.stage.deleted", actor=actor, target=stage,
            before={"name": stage.name}, ip=ip,
        )  # fmt: skip


def deletion_refusal(pipeline: Pipeline) -> UserError | None:
    """Why `pipeline` cannot be deleted, or None when it can."""
    if pipeline.is_default:
        return UserError(N_("The default pipeline cannot be deleted."))
    # Opportunities never leave their pipeline (see `change_stage`), so a
    # pipeline that held some would take their history with it.
    held = pipeline.opportunities.count()
    if held:
        return UserError(
            N_("Only a pipeline without opportunities can be deleted; this one holds %(n)s."),
            n=format_number(held),
        )
    return None


def delete_pipeline(pipeline: Pipeline, *, actor: User, ip: str = "") -> None:
    """Delete a pipeline without opportunities, and its stages."""
    refusal = deletion_refusal(pipeline)
    if refusal is not None:
        raise refusal
    # As stored, like every audit entry: a default name stays its msgid.
    stages = [stage.name for stage in stages_of(pipeline)]
    with db.atomic():
        Stage.delete().where(Stage.pipeline == pipeline.id).execute()
        pipeline.delete_instance()
        audit.record(
            "pipelines.deleted", actor=actor, target=pipeline,
            before={"name": pipeline.name, "stages": stages}, ip=ip,
        )  # fmt: skip
