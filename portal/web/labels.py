"""Display names for stored codes (status, segment, kind…) in the request's language.

One table serves every template through the `label` filter: a row of the client
list looks its status up here instead of calling a macro that builds a
dictionary of translations on every call.
"""

from __future__ import annotations

from functools import cache

from portal.i18n import N_, current_language, translations

# Codes shown as they are ("NIF") carry no marker: there is nothing to translate.
LABELS: dict[str, dict[str, str]] = {
    "status": {"lead": N_("Lead"), "prospect": N_("Prospect"), "customer": N_("Customer")},
    "segment": {"large": N_("Large"), "medium": N_("Medium"), "small": N_("Small"), "": ""},
    "kind": {"company": N_("Company"), "person": N_("Person")},
    "activity": {
        "call": N_("Call"),
        "visit": N_("Visit"),
        "email": N_("Email"),
        "note": N_("Note"),
    },
    "task": {
        "call": N_("Call"),
        "visit": N_("Visit"),
        "email": N_("Email"),
        "meeting": N_("Meeting"),
        "other": N_("Other"),
    },
    "task_status": {"open": N_("Open"), "done": N_("Done"), "cancelled": N_("Cancelled")},
    "recurrence": {
        "": N_("Does not repeat"),
        "daily": N_("Every day"),
        "weekly": N_("Every week"),
        "monthly": N_("Every month"),
    },
    "fiscal": {
        "nif": "NIF",
        "nie": "NIE",
        "cif": "CIF",
        "other": N_("Other"),
        "foreign": N_("Foreign tax ID"),
        "": "",
    },
    "profile_kind": {"hierarchical": N_("Hierarchical"), "structural": N_("Structural")},
}


class Names(dict[str, str]):
    """The display names of one group; an unknown code shows as itself."""

    def __missing__(self, code: str) -> str:
        return code


def label(code: str, group: str) -> str:
    """The display name of `code` in `group`; an unknown code shows as itself."""
    return _translated(current_language.get())[group][code]


def labels(group: str) -> Names:
    """Every display name of `group` in the request's language, looked up by code.

    A list takes them once for all its rows: `names[row.status]` costs a
    template a dictionary lookup where the `label` filter costs two calls.
    """
    return _translated(current_language.get())[group]


@cache
def _translated(language: str) -> dict[str, Names]:
    catalogue = translations(language)
    # gettext("") would answer the catalogue's header.
    return {
        group: Names(
            {code: catalogue.gettext(text) if text else "" for code, text in names.items()}
        )
        for group, names in LABELS.items()
    }
