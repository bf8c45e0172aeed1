"""Tags: the administrator's list, and tagging a client within the profile's tags."""

from __future__ import annotations

import re

from portal.core import audit, restrictions
from portal.core.models import Client, ClientTag, Profile, Tag, User
from portal.core.permissions import Grants, read_grants, write_grants
from portal.database import db
from portal.i18n import gettext as _
from portal.text import clean

COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
NAME_LIMIT = 50


def validate_tag(raw: dict[str, str], tag: Tag | None) -> tuple[dict, dict]:
    values = {"name": clean(raw.get("name", "")), "colour": raw.get("colour", "").strip()}
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = _("The name is required.")
    elif len(values["name"]) > NAME_LIMIT:
        errors["name"] = _("At most %(n)s characters.", n=NAME_LIMIT)
    else:
        clash = Tag.select().where(Tag.name == values["name"])
        if tag is not None:
            clash = clash.where(Tag.id != tag.id)
        if clash.exists():
            errors["name"] = _("Another tag already has this name.")
    if not COLOUR.fullmatch(values["colour"]):
        errors["colour"] = _("A colour such as #1f6feb.")
    values["colour"] = values["colour"].lower()
    return values, errors


def tags_of(client: Client) -> list[Tag]:
    return list(Tag.select().join(ClientTag).where(ClientTag.client == client).order_by(Tag.name))


def retag(
    client: Client,
    checked: set[int],
    offered: set[int],
    grants: Grants,
    actor: User,
    ip: str,
) -> list[str]:
    """Set the offered tags as the boxes say; the names refused, if any.

    Tags the form did not offer keep their state. A refusal changes nothing:
    the profile may assign or remove only its own tags.
    """
    held = {link.tag_id for link in ClientTag.select().where(ClientTag.client == client)}
    names = {tag.id: tag.name for tag in Tag.select()}
    wanted = (held - offered) | checked
    to_add, to_remove, refused = restrictions.tag_refusals(wanted, held, names, grants)
    if refused or not (to_add or to_remove):
        return refused
    with db.atomic():
        if to_remove:
            ClientTag.delete().where(
                ClientTag.client == client, ClientTag.tag.in_(to_remove)
            ).execute()
        if to_add:
            rows = [{"client": client.id, "tag": tag} for tag in sorted(to_add)]
            ClientTag.insert_many(rows).execute()
        audit.record(
            "clients.tags.changed",
            actor=actor,
            target=client,
            before={"removed": sorted(names[t] for t in to_remove)},
            after={"added": sorted(names[t] for t in to_add)},
            ip=ip,
        )
    return []


def forget_tag_key(tag: Tag) -> list[str]:
    """Take a tag's key from every profile holding it; the names of those profiles."""
    key = restrictions.TAG_KEY.format(tag.id)
    names = []
    for profile in Profile.select().where(Profile.grants.contains(f'"{key}"')):
        held = read_grants(profile)
        if held.pop(key, None) is not None:
            write_grants(profile, held)
            profile.save()
            names.append(profile.name)
    return sorted(names)
