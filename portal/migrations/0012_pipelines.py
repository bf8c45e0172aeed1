"""Pipelines and their stages, each opportunity's stage, and the stage history.

Creates the default pipeline, whose names are catalogue msgids shown in the
reader's language, and puts every existing opportunity in one of its stages:
won and lost ones in Won and Lost, open ones in the stage their old free-text
stage named, else the first. Each gets one history row, entering that stage
when it was created. Profiles that open the clients now also open the board and
the funnel and may change opportunities, as new profiles do. Frozen copy of the
definitions as they were at this migration.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate

# (msgid, probability, kind), in board order; the msgids are marked in
# portal/core/pipelines.py, where they are translated.
DEFAULT_PIPELINE = "Sales"
DEFAULT_STAGES = (
    ("Qualification", 10, "open"),
    ("Needs analysis", 25, "open"),
    ("Proposal", 50, "open"),
    ("Negotiation", 75, "open"),
    ("Won", 100, "won"),
    ("Lost", 0, "lost"),
)
NEW_KEYS = ("menu.opportunities", "menu.opportunities.funnel", "opportunities.edit")


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class BaseModel(pw.Model):
    class Meta:
        legacy_table_names = False


class Profile(BaseModel):
    grants = pw.TextField(default="{}")

    class Meta:
        table_name = "profile"


class User(BaseModel):
    class Meta:
        table_name = "user"


class Pipeline(BaseModel):
    name = pw.CharField(max_length=100)
    position = pw.IntegerField(default=0)
    is_default = pw.BooleanField(default=False)
    translatable = pw.BooleanField(default=False)

    class Meta:
        table_name = "pipeline"


class Stage(BaseModel):
    pipeline = pw.ForeignKeyField(Pipeline, backref="stages", on_delete="CASCADE")
    name = pw.CharField(max_length=100)
    position = pw.IntegerField(default=0)
    probability = pw.IntegerField(default=0)
    kind = pw.CharField(max_length=10, default="open")
    translatable = pw.BooleanField(default=False)

    class Meta:
        table_name = "stage"
        indexes = ((("pipeline", "position"), False),)


class Opportunity(BaseModel):
    status = pw.CharField(max_length=10, default="open")
    old_stage = pw.CharField(max_length=50, default="", column_name="stage")
    created_at = pw.DateTimeField(default=_utcnow)

    class Meta:
        table_name = "opportunity"


class StageChange(BaseModel):
    opportunity = pw.ForeignKeyField(Opportunity, backref="stage_changes", on_delete="CASCADE")
    from_stage = pw.ForeignKeyField(Stage, null=True, backref="changes_from", on_delete="SET NULL")
    to_stage = pw.ForeignKeyField(Stage, backref="changes_to", on_delete="CASCADE")
    user = pw.ForeignKeyField(User, null=True, backref="stage_changes", on_delete="SET NULL")
    at = pw.DateTimeField(default=_utcnow)

    class Meta:
        table_name = "stage_change"
        indexes = ((("opportunity", "at"), False),)


def _default_pipeline() -> dict[str, int]:
    """Create the default pipeline; its stage ids by lower-case name and by kind."""
    pipeline = Pipeline.create(name=DEFAULT_PIPELINE, is_default=True, translatable=True)
    ids: dict[str, int] = {}
    for position, (name, probability, kind) in enumerate(DEFAULT_STAGES):
        stage = Stage.create(
            pipeline=pipeline, name=name, position=position, probability=probability,
            kind=kind, translatable=True,
        )  # fmt: skip
        ids[name.lower()] = stage.id
        ids.setdefault(kind, stage.id)
    ids["pipeline"] = pipeline.id
    return ids


def _place_opportunities(ids: dict[str, int]) -> None:
    rows = Opportunity.select(Opportunity.id, Opportunity.status, Opportunity.old_stage)
    for row in rows.tuples().iterator():
        key, status, old = row
        if status in ("won", "lost"):
            stage = ids[status]
        else:
            stage = ids.get(old.strip().lower().replace("_", " "), ids["open"])
        (Opportunity.update({pw.Entity("stage_id"): stage}).where(Opportunity.id == key).execute())


def _grant_new_keys() -> None:
    for profile in Profile.select():
        held = json.loads(profile.grants or "{}")
        if "menu.clients" not in held:
            continue
        held.update(dict.fromkeys(NEW_KEYS, ""))
        profile.grants = json.dumps(dict(sorted(held.items())), separators=(",", ":"))
        profile.save()


def apply(database: pw.Database) -> None:
    models = [Profile, User, Pipeline, Stage, Opportunity, StageChange]
    with database.bind_ctx(models):
        database.create_tables([Pipeline, Stage])
        ids = _default_pipeline()
        migrator = SchemaMigrator.from_database(database)
        pipeline = pw.ForeignKeyField(Pipeline, field=Pipeline.id, null=True, on_delete="RESTRICT")
        stage = pw.ForeignKeyField(Stage, field=Stage.id, null=True, on_delete="RESTRICT")
        migrate(
            migrator.add_column("opportunity", "pipeline_id", pipeline),
            migrator.add_column("opportunity", "stage_id", stage),
        )
        Opportunity.update({pw.Entity("pipeline_id"): ids["pipeline"]}).execute()
        _place_opportunities(ids)
        # SQLite rebuilds the table for these: no table may point at it yet.
        migrate(
            migrator.drop_column("opportunity", "stage"),
            migrator.add_not_null("opportunity", "pipeline_id"),
            migrator.add_not_null("opportunity", "stage_id"),
            migrator.add_index("opportunity", ("pipeline_id", "stage_id"), False),
        )
        database.create_tables([StageChange])
        StageChange.insert_from(
            Opportunity.select(Opportunity.id, pw.SQL("stage_id"), Opportunity.created_at),
            [StageChange.opportunity, StageChange.to_stage, StageChange.at],
        ).execute()
        _grant_new_keys()
