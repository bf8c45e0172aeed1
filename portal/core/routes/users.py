"""Administration → Users: accounts over their lifetime.

Whoever holds `menu.admin.users` comes here; what they reach is `people.Reach`:
administrators everyone, anyone else only the people below their own profile.
Someone out of reach answers 404, as a record out of sight does.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.config import LANGUAGES
from portal.core import audit, leavers, people, tokens, vacations
from portal.core import profiles as profile_reach
from portal.core.models import Client, Profile, User
from portal.core.routes.profiles import tree_rows
from portal.database import db
from portal.i18n import N_
from portal.i18n import gettext as _
from portal.text import parse_id
from portal.web import emails
from portal.web.rendering import grants_of, render, see_other
from portal.web.requests import client_ip, form_values, permission_required

# What the user page says after an action redirected to it (`?notice=`).
NOTICES = {
    "invited": N_("Invitation sent."),
    "invite_failed": N_(
        "The account is saved, but the invitation email could not be sent. "
        "Try “Resend invitation” in a while."
    ),
    "deactivated": N_("Deactivated. Their clients now belong to the successor."),
    "reactivated": N_("Active again: this person can log in."),
}


def _notice(request: Request) -> str:
    key = request.query_params.get("notice", "")
    return _(NOTICES[key]) if key in NOTICES else ""


def _reach(request: Request) -> people.Reach:
    reach = getattr(request.state, "reach", None)
    if reach is None:
        reach = request.state.reach = people.Reach(request.state.user)
    return reach


def _reached_user(request: Request) -> User:
    user = _reach(request).user_or_none(request.path_params["user_id"])
    if user is None:
        raise HTTPException(404)
    return user


@permission_required("menu.admin.users")
async def user_list(request: Request) -> Response:
    users = list(_reach(request).users().order_by(User.is_active.desc(), User.name))
    return render(request, "admin/users.html", {"users": users})


def _new_invitation(request: Request, user: User, *, resent: bool) -> str:
    """A fresh invitation token (earlier links stop working), recorded in the log."""
    with db.atomic():
        token = tokens.issue(user, tokens.INVITE)
        audit.record(
            "users.invited",
            actor=request.state.user,
            target=user,
            after={"email": user.email, "resent": resent},
            ip=client_ip(request),
        )
    return token


def _send_invitation(request: Request, user: User, token: str) -> str:
    """Email the link, once the transaction has committed; the notice to show next."""
    sent = emails.send_link(request.app, user, tokens.INVITE, token, sender=request.state.user.name)
    return "invited" if sent else "invite_failed"


async def _user_form(request: Request, user: User | None, *, invite: bool = False) -> Response:
    reach = _reach(request)
    actor: User = request.state.user
    if request.method == "GET":
        raw = {"language": "", "time_zone": ""}
        if user is not None:
            raw = {
                "name": user.name,
                "email": user.email,
                "profile": str(user.profile_id),
                "language": user.language,
                "time_zone": user.time_zone,
                "is_admin": "on" if user.is_admin else "",
            }
        errors: dict[str, str] = {}
    else:
        raw = await form_values(request)
        values, errors = people.validate_user(raw, user, invite=invite)
        reach.check(raw, values, errors, user)
        if not errors:
            ip = client_ip(request)
            if user is not None:
                people.update_audited(user, values, actor=actor, ip=ip)
                return see_other("/admin/users")
            if not invite:
                people.create_audited(values, actor=actor, ip=ip)
                return see_other("/admin/users")
            with db.atomic():
                user = people.create_audited(values, actor=actor, ip=ip)
                token = _new_invitation(request, user, resent=False)
            notice = _send_invitation(request, user, token)
            return see_other(f"/admin/users/{user.id}?notice={notice}")
    context = {
        "edited": user,
        "invite": invite,
        "form": raw,
        "errors": errors,
        "profiles": [row[0] for row in tree_rows() if row[0].id in reach.profiles],
        "may_make_admins": reach.full,
        "is_self": user is not None and user.id == actor.id,
        "pending": user is not None and tokens.pending_invitation(user),
        "notice": _notice(request),
        "languages": LANGUAGES,
        "zones": sorted(people.ZONES),
    }
    return render(request, "admin/user_form.html", context, status_code=400 if errors else 200)


@permission_required("menu.admin.users")
async def user_new(request: Request) -> Response:
    return await _user_form(request, None)


@permission_required("menu.admin.users")
async def user_invite(request: Request) -> Response:
    return await _user_form(request, None, invite=True)


@permission_required("menu.admin.users")
async def user_edit(request: Request) -> Response:
    return await _user_form(request, _reached_user(request))


@permission_required("menu.admin.users")
async def user_resend_invitation(request: Request) -> Response:
    user = _reached_user(request)
    if not tokens.pending_invitation(user):
        raise HTTPException(400, _("This person has already chosen a password or is inactive."))
    token = _new_invitation(request, user, resent=True)
    notice = _send_invitation(request, user, token)
    return see_other(f"/admin/users/{user.id}?notice={notice}")


def _chains_naming(request: Request, leaver: User) -> tuple[list[tuple[Profile, bool]], int]:
    """The approval chains naming the leaver, as (profile, linked) pairs, and how
    many more are left unnamed.

    Deactivating reroutes no chain, so the confirmation says where requests will go.
    Profiles are named where this editor sees the tree or reaches the profile, and
    linked where they may change the chain; the rest are only counted.
    """
    sees_tree = grants_of(request).has("menu.admin.profiles")
    changes = profile_reach.Reach.of(request.state.user)
    named: list[tuple[Profile, bool]] = []
    unnamed = 0
    for profile in vacations.chains_naming(leaver):
        if sees_tree or profile.id in _reach(request).profiles:
            named.append((profile, sees_tree and changes.may_change(profile.id)))
        else:
            unnamed += 1
    return named, unnamed


@permission_required("menu.admin.users")
async def user_deactivate(request: Request) -> Response:
    leaver = _reached_user(request)
    if leaver.id == request.state.user.id:
        raise HTTPException(403, _("Nobody can deactivate themselves."))
    if not leaver.is_active:
        return see_other(f"/admin/users/{leaver.id}")
    choices = list(_reach(request).successors(leaver))
    errors: dict[str, str] = {}
    chosen = ""
    if request.method == "POST":
        chosen = (await form_values(request)).get("successor", "")
        key = parse_id(chosen)
        # Only someone who was offered: a crafted id of an assistant, an
        # inactive user or someone out of sight is refused here.
        successor = next((person for person in choices if person.id == key), None)
        if successor is None:
            errors["successor"] = _("Choose who takes over, among the people offered.")
        else:
            leavers.deactivate(leaver, successor, actor=request.state.user, ip=client_ip(request))
            return see_other(f"/admin/users/{leaver.id}?notice=deactivated")
    chains, unnamed = _chains_naming(request, leaver)
    context = {
        "leaver": leaver,
        "choices": choices,
        "chains": chains,
        "unnamed_chains": unnamed,
        "clients": Client.select().where(Client.owner == leaver.id).count(),
        "form": {"successor": chosen},
        "errors": errors,
    }
    return render(
        request, "admin/user_deactivate.html", context, status_code=400 if errors else 200
    )


@permission_required("menu.admin.users")
async def user_reactivate(request: Request) -> Response:
    user = _reached_user(request)
    if user.is_active:
        return see_other(f"/admin/users/{user.id}")
    leavers.reactivate(user, actor=request.state.user, ip=client_ip(request))
    return see_other(f"/admin/users/{user.id}?notice=reactivated")


routes = [
    Route("/admin/users", user_list),
    Route("/admin/users/new", user_new, methods=["GET", "POST"]),
    Route("/admin/users/invite", user_invite, methods=["GET", "POST"]),
    Route("/admin/users/{user_id:id}", user_edit, methods=["GET", "POST"]),
    Route("/admin/users/{user_id:id}/invite", user_resend_invitation, methods=["POST"]),
    Route("/admin/users/{user_id:id}/deactivate", user_deactivate, methods=["GET", "POST"]),
    Route("/admin/users/{user_id:id}/reactivate", user_reactivate, methods=["POST"]),
]
