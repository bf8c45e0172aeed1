"""Content restrictions on clients: what a profile may change, checked on the server.

Every way of writing a client (the form, htmx, import, and later bulk actions and
the API) passes its values through `client_refusals` before saving, so a field
the profile may not change is refused the same way everywhere.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from portal.core.models import Client, Tag
from portal.core.permissions import Grants
from portal.i18n import gettext as _

TAG_KEY = "clients.tag.{}"


def _changed(values: dict[str, Any], current: Client | None, name: str, blank: Any) -> bool:
    if name not in values:
        return False
    before = getattr(current, name) if current is not None else blank
    return values[name] != before


def client_refusals(
    values: dict[str, Any], grants: Grants, current: Client | None = None
) -> dict[str, str]:
    """A message per field whose new value the user's profile does not allow.

    `values` are converted field values; `current` is the client before the
    change (None when creating). Only changes are judged: an edit that keeps a
    value set by someone else is never refused.
    """
    refused: dict[str, str] = {}
    if _changed(values, current, "visible_to_all", False):
        if not grants.has("clients.visible_to_all"):
            refused["visible_to_all"] = _("Your profile may not make clients visible to all.")
    if _changed(values, current, "is_supplier", False) and not grants.has("clients.supplier"):
        refused["is_supplier"] = _("Your profile may not change whether a client is a supplier.")
    for name in ("latitude", "longitude"):
        if _changed(values, current, name, None) and not grants.has("clients.coordinates"):
            refused[name] = _("Your profile may not change a client's coordinates.")
    if (
        values.get("fiscal_id_type") == "other"
        and _changed(values, current, "fiscal_id_type", "")
        and not grants.has("clients.fiscal_id_other")
    ):
        refused["fiscal_id_type"] = _("Your profile may only use NIF, CIF, NIE or a foreign ID.")
    if _changed(values, current, "discount", Decimal(0)):
        ceiling = grants.limit("clients.discount")
        if ceiling is None:
            refused["discount"] = _("Your profile may not grant discounts.")
        elif values["discount"] > ceiling:
            refused["discount"] = _("Your profile may grant up to %(n)s %%.", n=ceiling)
    return refused


# Form fields that stay read-only for a profile without the key.
_LOCKS = {
    "visible_to_all": "clients.visible_to_all",
    "is_supplier": "clients.supplier",
    "latitude": "clients.coordinates",
    "longitude": "clients.coordinates",
    "discount": "clients.discount",
}


def locked_fields(grants: Grants) -> set[str]:
    """Client fields the form shows read-only for this user."""
    return {name for name, key in _LOCKS.items() if not grants.has(key)}


def may_tag(grants: Grants, tag: Tag | int) -> bool:
    tag_id = tag if isinstance(tag, int) else tag.id
    return grants.has(TAG_KEY.format(tag_id))


def tag_refusals(
    wanted: set[int], held: set[int], known: dict[int, str], grants: Grants
) -> tuple[set[int], set[int], list[str]]:
    """Tags to add and remove to go from `held` to `wanted`, and the names refused.

    `known` names every tag. A profile assigns or removes only the tags it
    holds; changing any other tag refuses the whole change, so nothing is
    applied halfway.
    """
    wanted = wanted & known.keys()
    to_add, to_remove = wanted - held, held - wanted
    refused = sorted(known[t] for t in to_add | to_remove if not may_tag(grants, t))
    return to_add, to_remove, refused
