"""Demo tasks: each person's agenda around the demo's day, late ones included.

Drawn after the rest of the demo from a generator of their own, so adding them
changed none of the rows the demo had (the outcomes of done tasks are new
activities). Salespeople have calls and visits to their own
clients over the fortnight around the day, some already done and some late;
every head of sales holds a weekly team meeting at 09:00 their time.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from portal.core import tasks
from portal.core.models import Activity, Client, Profile, Task, User
from portal.core.tasks import When

_TITLES = {
    "call": ("Llamar para confirmar pedido", "Seguimiento del presupuesto", "Llamada de cortesía"),
    "visit": ("Visita comercial", "Presentar el catálogo nuevo", "Revisar el almacén del cliente"),
    "email": ("Enviar la oferta", "Mandar tarifas actualizadas"),
    "meeting": ("Reunión de condiciones anuales",),
}
_HOURS = (9, 10, 11, 12, 13, 16, 17, 18)
_OUTCOMES = ("Interesado, pide nueva visita", "Sin respuesta", "Confirma el pedido")


def create_tasks(rng: random.Random, now: datetime) -> int:
    """Tasks for the people who own clients, and their heads' weekly meetings."""
    today = now.date()
    people = list(
        User.select(User, Profile.name)
        .join(Profile)
        .where(Profile.name.startswith("Comercial") | Profile.name.startswith("Jefatura"))
        .order_by(User.id)
    )
    clients = _clients_by_owner()
    created = 0
    for person in people:
        zone = person.time_zone or "Europe/Madrid"
        if person.profile.name.startswith("Jefatura"):
            monday = today + timedelta(days=(7 - today.weekday()) % 7)
            start = datetime.combine(monday, time(9))
            tasks.create(
                person, "Reunión semanal del equipo", When.at(start, zone), kind="meeting",
                duration_minutes=60, recurrence="weekly", reminder_minutes=15,
            )  # fmt: skip
            created += 1
        owned = clients.get(person.id, [])
        for _number in range(12 if owned else 0):
            created += _one(rng, person, zone, rng.choice(owned), today, now)
        if owned:
            tasks.create(
                person, "Feria del sector", When.all_day(today + timedelta(days=rng.randint(3, 9))),
                kind="other", notes="Todo el día en el recinto ferial.",
            )  # fmt: skip
            created += 1
    # Stamped with the demo's day, so the same seed and day give the same rows.
    Task.update(created_at=now, updated_at=now).execute()
    return created


def _clients_by_owner() -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    # A few clients each, the same ones whatever the database returns first.
    query = Client.select(Client.id, Client.owner).order_by(Client.id).tuples()
    for client_id, owner_id in query:
        kept = found.setdefault(owner_id, [])
        if len(kept) < 40:
            kept.append(client_id)
    return found


def _one(
    rng: random.Random, person: User, zone: str, client_id: int, today: date, now: datetime
) -> int:
    kind = rng.choice(("call", "call", "visit", "visit", "email", "meeting"))
    day = today + timedelta(days=rng.randint(-7, 10))
    start = datetime.combine(day, time(rng.choice(_HOURS), rng.choice((0, 30))))
    task = tasks.create(
        person, rng.choice(_TITLES[kind]), When.at(start, zone), kind=kind, client=client_id,
        created_by=person, duration_minutes=rng.choice((15, 30, 45, 60)),
        reminder_minutes=rng.choice((None, 15, 30)),
    )  # fmt: skip
    # Most of what lies in the past is done; the rest is late.
    if day < today and rng.random() < 0.7:
        activity = Activity.create(
            client=client_id, author=person.id, kind="visit" if kind == "meeting" else kind,
            subject=task.title, notes=rng.choice(_OUTCOMES), happened_at=task.due_at,
            created_at=task.due_at,
        )  # fmt: skip
        (
            Task.update(status="done", completed_at=task.due_at, outcome=activity.id)
            .where(Task.id == task.id)
            .execute()
        )
    return 1
