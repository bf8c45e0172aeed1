"""Client discounts and tags, both limited by the profile's permissions.

Frozen copy of the definitions as they were at this migration.
"""

from __future__ import annotations

from decimal import Decimal

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate


class BaseModel(pw.Model):
    class Meta:
        legacy_table_names = False


class Client(BaseModel):
    class Meta:
        table_name = "client"


class Tag(BaseModel):
    name = pw.CharField(max_length=50, unique=True)
    colour = pw.CharField(max_length=7, default="#5b6b7f")

    class Meta:
        table_name = "tag"


class ClientTag(BaseModel):
    client = pw.ForeignKeyField(Client, backref="tag_links", on_delete="CASCADE")
    tag = pw.ForeignKeyField(Tag, backref="client_links", on_delete="CASCADE")

    class Meta:
        table_name = "client_tag"
        indexes = ((("client", "tag"), True),)


def apply(database: pw.Database) -> None:
    migrator = SchemaMigrator.from_database(database)
    discount = pw.DecimalField(max_digits=5, decimal_places=2, default=Decimal(0))
    migrate(migrator.add_column("client", "discount", discount))
    with database.bind_ctx([Client, Tag, ClientTag]):
        database.create_tables([Tag, ClientTag])
