"""Nobody sees or touches the objectives of anyone outside their scope.

Random companies from the core's visibility tests; the reference is the
core's naive one, applied to objectives as if each were a record owned by
its person, plus the written rule for profiles (below the viewer's own).
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from hypothesis import given, settings
from starlette.testclient import TestClient

from plugins.objectives.models import Objective
from plugins.objectives.periods import MONTH
from portal.core.models import Profile, User
from tests.conftest import log_in, token
from tests.core.test_visibility import (
    FUNCTION_FIXTURE,
    GRANTS,
    World,
    build,
    expected_visible,
    worlds,
)

MARCH = date(2025, 3, 1)
OBJECTIVE_GRANTS = json.dumps(
    {**json.loads(GRANTS), "menu.objectives": "", "objectives.manage": ""}
)


def expected_objectives(user: User) -> set[int]:
    profiles = {profile.id: profile for profile in Profile.select()}
    objectives = list(Objective.select())
    personal = [
        SimpleNamespace(id=o.id, owner_id=o.user_id, visible_to_all=False)
        for o in objectives
        if o.user_id is not None
    ]
    seen = expected_visible(user, profiles.values(), list(User.select()), personal)
    seen |= {o.id for o in objectives if o.user_id == user.id}
    mine = profiles[user.profile_id]

    def strictly_below(profile_id: int, top: int | None) -> bool:
        current = profiles[profile_id].parent_id
        while current is not None:
            if current == top:
                return True
            current = profiles[current].parent_id
        return False

    for o in objectives:
        if o.profile_id is None:
            continue
        if mine.kind == "structural":
            seen.add(o.id)
        elif mine.is_assistant:
            served = mine.parent_id
            if served is not None and (
                o.profile_id == served or strictly_below(o.profile_id, served)
            ):
                seen.add(o.id)
        elif strictly_below(o.profile_id, mine.id):
            seen.add(o.id)
    return seen


def shown_ids(html: str) -> set[int]:
    return {int(key) for key in re.findall(r'id="objective-(\d+)"', html)}


@settings(max_examples=12, deadline=None, suppress_health_check=FUNCTION_FIXTURE)
@given(world=worlds(max_clients=3))
def test_objectives_follow_the_scope_for_every_verb(web: TestClient, world: World) -> None:
    Objective.delete().execute()
    users = build(world)
    Profile.update(grants=OBJECTIVE_GRANTS).execute()
    for user in users:
        Objective.create(user=user, period=MONTH, starts_on=MARCH, metric="x", target=Decimal(1))
    for profile in Profile.select():
        Objective.create(
            profile=profile, period=MONTH, starts_on=MARCH, metric="x", target=Decimal(1)
        )
    every = {o.id for o in Objective.select(Objective.id)}

    for user in users:
        web.cookies.clear()
        log_in(web, user.email)
        csrf = token(web, "/objectives")
        expected = expected_objectives(user)

        page = web.get("/objectives?period=2025-03&team=all")
        assert shown_ids(page.text) == expected, user.email
        widget = web.get("/objectives/widget").text
        assert shown_ids(widget) <= {o.id for o in Objective.select().where(Objective.user == user)}
        for key in sorted(every - expected)[:4]:
            for action in ("edit", "delete", "split"):
                path = f"/objectives/{key}/{action}"
                assert web.get(path).status_code == 404, (user.email, path)
                answer = web.post(
                    path, data={"csrf_token": csrf, "mode": "even", "target": "5"},
                    follow_redirects=False,
                )  # fmt: skip
                assert answer.status_code == 404, (user.email, path)
    assert {o.id for o in Objective.select(Objective.id)} == every
