"""Small helpers every view uses: the current user, forms, client address."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from portal.core.models import Client, User
from portal.core.visibility import Scope
from portal.i18n import gettext as _
from portal.web.rendering import grants_of, see_other

View = Callable[[Request], Awaitable[Response]]


def current_user(request: Request) -> User | None:
    return request.state.user


def login_required(view: View) -> View:
    """Send anonymous visitors to the login page, remembering where they were."""

    @wraps(view)
    async def wrapper(request: Request) -> Response:
        if request.state.user is None:
            target = request.url.path
            if request.url.query:
                target += "?" + request.url.query
            return see_other("/login?next=" + quote(target, safe=""))
        return await view(request)

    return wrapper


def permission_required(key: str) -> Callable[[View], View]:
    """Refuse the view (403, with the entry's name) unless the profile holds `key`."""

    def decorate(view: View) -> View:
        @wraps(view)
        async def wrapper(request: Request) -> Response:
            if not grants_of(request).has(key):
                registry = request.app.state.permissions
                label = _(registry.permissions[key].label)
                raise HTTPException(
                    403, _("Your profile does not include “%(entry)s”.", entry=label)
                )
            return await view(request)

        return login_required(wrapper)

    return decorate


def admin_required(view: View) -> View:
    """Only administrators (for what no permission key may hand out)."""

    @wraps(view)
    async def wrapper(request: Request) -> Response:
        user = request.state.user
        if user is None or not user.is_admin:
            raise HTTPException(404)
        return await view(request)

    return login_required(wrapper)


def scope_of(request: Request) -> Scope:
    """The visibility scope of the current user, built once per request."""
    scope = getattr(request.state, "scope", None)
    if scope is None:
        scope = request.state.scope = Scope.for_user(request.state.user)
    return scope


def visible_client(request: Request, *, to_change: bool = False) -> Client:
    """The client in the URL if the user may see (or change) it; otherwise 404."""
    client = scope_of(request).client_or_none(request.path_params["client_id"], to_change=to_change)
    if client is None:
        raise HTTPException(404)
    return client


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


async def form_values(request: Request) -> dict[str, str]:
    """Text fields of a posted form (files are left to the views that take them)."""
    async with request.form() as form:
        return _texts(form)


def _texts(form: FormData) -> dict[str, str]:
    return {key: value for key, value in form.multi_items() if isinstance(value, str)}
