"""Who may see and set which objectives: the visibility scope, applied to targets.

A viewer sees the objectives of the people their scope covers (themselves
included) and of the profiles below theirs; `objectives.manage` lets them set
and split those, except their own; administrators may set their own too.
Assistants never set objectives, even holding the key: their scope is the
profile they serve, which would let them set their own manager's. An
assistant profile and its holders never get objectives or shares: they own
nothing that could count towards one.
Administrators see figures through their scope like everyone else: their
profile (structural for a back office) decides what they see, as for clients.
Anything else answers 404, as an out-of-scope client does.
"""

from __future__ import annotations

import peewee as pw

from plugins.objectives.models import Objective
from plugins.objectives.standing import Team
from portal.core.models import Profile, User
from portal.core.permissions import Grants
from portal.core.visibility import Scope, owner_condition

MENU = "menu.objectives"
MANAGE = "objectives.manage"


class Access:
    def __init__(self, user: User, scope: Scope, grants: Grants) -> None:
        self.user = user
        self.scope = scope
        self.grants = grants
        # An assistant acts for the profile it serves: it reads that profile's
        # objectives and has none of its own.
        self.assists = bool(scope.tree.assistant.get(user.profile_id))
        self.manages = grants.has(MANAGE) and not self.assists
        self._team: Team | None = None

    @property
    def everything(self) -> bool:
        return self.scope.sees_all

    def condition(self) -> pw.Expression:
        """WHERE condition on `Objective` for what the viewer may see."""
        if self.everything:
            seen: pw.Expression = pw.SQL("1 = 1")
        else:
            # "Everyone but nobody" reads as 1 = 1: keep it to personal objectives.
            people = Objective.user.is_null(False) & owner_condition(
                Objective.user, *self.scope.owner_rule()
            )
            mine = Objective.user == self.user.id
            profiles = sorted(self.scope.profiles)
            below = Objective.profile.in_(profiles) if profiles else pw.SQL("1 = 0")
            seen = people | mine | below
        if self.assists:
            # None of its own, not even one set before its profile became an assistant's.
            seen &= Objective.user.is_null() | (Objective.user != self.user.id)
        return seen

    def objective_or_none(self, objective_id: int) -> Objective | None:
        return Objective.select().where((Objective.id == objective_id) & self.condition()).first()

    def team(self) -> Team:
        """Everyone the viewer sees (and themselves), by profile: one query."""
        if self._team is None:
            query = User.select(User.id, User.name, User.profile, User.is_active)
            if not self.everything:
                profiles = sorted(self.scope.profiles)
                query = query.where(User.profile.in_(profiles) | (User.id == self.user.id))
            self._team = Team(self.scope.tree, query.tuples())
        return self._team

    def sees_user(self, user_id: int) -> bool:
        if user_id == self.user.id or self.everything:
            return True
        profile = self.team().profile_of.get(user_id)
        return profile is not None and self.scope.covers(user_id, profile)

    def sees_profile(self, profile_id: int) -> bool:
        return self.everything or profile_id in self.scope.profiles

    def may_set_user(self, user_id: int) -> bool:
        if not self.manages:
            return False
        profile = self.team().profile_of.get(user_id)
        if profile is not None and self.scope.tree.assistant.get(profile):
            return False
        if user_id == self.user.id:
            return self.user.is_admin
        return self.sees_user(user_id)

    def may_set_profile(self, profile_id: int) -> bool:
        assistant = self.scope.tree.assistant.get(profile_id)
        return self.manages and not assistant and self.sees_profile(profile_id)

    def may_manage(self, objective: Objective) -> bool:
        if objective.user_id is not None:
            return self.may_set_user(objective.user_id)
        return self.may_set_profile(objective.profile_id)

    def may_split(self, objective: Objective) -> bool:
        """Splitting hands out shares to the people below: a manager may split their own."""
        own = objective.user_id == self.user.id and self.manages
        return own or self.may_manage(objective)

    def people_to_set(self) -> list[tuple[int, str]]:
        team = self.team()
        ids = [u for u in team.active if self.may_set_user(u)]
        return sorted(((u, team.name[u]) for u in ids), key=lambda p: (p[1].casefold(), p[0]))

    def profiles_to_set(self) -> list[tuple[int, str]]:
        if not self.manages:
            return []
        tree = self.scope.tree
        ids = [p for p in tree.kind if self.may_set_profile(p)]
        if not ids:
            return []
        rows = Profile.select(Profile.id, Profile.name).where(Profile.id.in_(ids)).tuples()
        return sorted(rows, key=lambda p: (p[1].casefold(), p[0]))

    def profile_names(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = Profile.select(Profile.id, Profile.name).where(Profile.id.in_(sorted(ids)))
        return dict(rows.tuples())
