"""Benchmark of the client import: rows per second against a raw `executemany` floor.

Writes a Spanish Excel-style CSV (BOM, `;`, decimal commas, dd/mm/yyyy dates,
NIFs, phones in several spellings) of 100,000 clients, some of them already in
the portal and some repeated inside the file, and imports it through the real
job engine: reading, validation, duplicate checks against the database and the
file, restrictions, writes and the undo log. The floor inserts the very rows the
import stored into an identical, empty client table with one `executemany` on
the raw `sqlite3` cursor, in the same run. See bench/README.md.

    .venv/bin/python bench/client_import.py [--rows N] [--existing N]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Runs from a checkout; the portal package need not be installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portal.core import import_jobs, importer, importing, tabular  # noqa: E402
from portal.core.models import Client, Profile, User  # noqa: E402
from portal.database import db, open_database  # noqa: E402
from portal.migrations import migrate  # noqa: E402
from portal.text import sort_key  # noqa: E402

RATIO_TARGET = 20  # the import must reach at least floor / 20
DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
GIVEN = ("María", "José", "Lucía", "Íñigo", "Begoña", "Ramón", "Nuria", "Óscar", "Inés")
SURNAMES = ("García", "Muñoz", "Núñez", "Ibáñez", "Peña", "Álvarez", "Zúñiga", "Díaz")
TRADES = ("Distribuciones", "Talleres", "Ferretería", "Panadería", "Cerámicas", "Óptica")
CITIES = (("Madrid", "28"), ("A Coruña", "15"), ("Cáceres", "10"), ("Logroño", "26"))


def _nif(number: int) -> str:
    return f"{number:08d}{DNI_LETTERS[number % 23]}"


def _phone(rng: random.Random) -> str:
    digits = f"6{rng.randrange(10**7, 10**8)}"
    spellings = (
        digits,
        f"{digits[:3]} {digits[3:5]} {digits[5:7]} {digits[7:]}",
        f"+34 {digits}",
        f"0034{digits}",
    )
    return rng.choice(spellings)


def build_file(rows: int, existing: int, rng: random.Random) -> bytes:
    """The CSV; rows 0..existing-1 repeat fiscal IDs already in the portal."""
    lines = ["Nombre;NIF;Email;Teléfono;Población;Código postal;Facturación;Fecha alta"]
    for n in range(rows):
        # One row in fifty repeats an earlier row's email with other capitals.
        email = f"cliente{n}@ejemplo.es"
        if n % 50 == 49:
            email = f" Cliente{n - 1}@Ejemplo.ES "
        city, prefix = CITIES[n % len(CITIES)]
        if n % 3:
            name = f"{rng.choice(TRADES)} {rng.choice(SURNAMES)} {n} S.L."
        else:
            name = f"{rng.choice(GIVEN)} {rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"
        revenue = f"{rng.randrange(1, 999)}.{rng.randrange(1000):03d},{rng.randrange(100):02d}"
        day = f"{rng.randrange(1, 29):02d}/{rng.randrange(1, 13):02d}/{rng.randrange(2000, 2025)}"
        lines.append(
            f"{name};{_nif(10_000_000 + n)};{email};{_phone(rng)};{city};"
            f"{prefix}{rng.randrange(1000):03d};{revenue};{day}"
        )
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


def setup(path: Path) -> User:
    open_database(f"sqlite:///{path}")
    migrate(db.obj)
    profile = Profile.create(name="Back office", kind="structural")
    return User.create(email="import@bench.example", name="Import", profile=profile)


def seed_existing(owner: User, existing: int) -> None:
    """Clients already in the portal, matched by fiscal ID from the file's first rows."""
    fields = [Client.name, Client.fiscal_id_type, Client.fiscal_id, Client.owner, Client.sort_name]
    rows = [
        (f"Antiguo {n}", "nif", _nif(10_000_000 + n), owner.id, sort_key(f"Antiguo {n}"))
        for n in range(existing)
    ]
    with db.atomic():
        for start in range(0, len(rows), 5000):
            Client.insert_many(rows[start : start + 5000], fields=fields).execute()


def run_import(owner: User, data: bytes, folder: Path) -> tuple[float, object]:
    start = time.perf_counter()
    table = tabular.read_table(data, "clientes.csv")
    mapping = importing.guess_mapping(table.headers)
    options = {
        "mapping": {str(column): target for column, target in mapping.items()},
        "country": "ES",
        "number_format": importing.guess_number_format(table, mapping) or "es",
        "on_match": "update",
        "owner": owner.id,
    }
    job = importer.start_job(
        owner, "clients", "clientes.csv", data, folder, options, total=len(table.rows),
        dry_run=False,
    )  # fmt: skip
    job = import_jobs.run_job(job.id, folder, "es")
    return time.perf_counter() - start, job


def floor(stored: list[tuple], columns: list[str], path: Path, rounds: int) -> list[float]:
    """Seconds to insert the same rows with one raw executemany, per round."""
    open_database(f"sqlite:///{path}")
    migrate(db.obj)
    profile = Profile.create(name="Back office", kind="structural")
    User.create(email="import@bench.example", name="Import", profile=profile)
    db.close()
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=wal")
    connection.execute("PRAGMA synchronous=normal")
    connection.execute("PRAGMA foreign_keys=1")
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO client ({', '.join(columns)}) VALUES ({marks})"
    seconds = []
    for _ in range(rounds):
        connection.execute("DELETE FROM client")
        start = time.perf_counter()
        connection.execute("BEGIN")
        connection.executemany(sql, stored)
        connection.execute("COMMIT")
        seconds.append(time.perf_counter() - start)
    connection.close()
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--existing", type=int, default=5_000, help="rows already in the portal")
    parser.add_argument("--rounds", type=int, default=3, help="floor rounds (median kept)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--json", metavar="FILE", type=Path)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory(prefix="cartera-bench-import-") as folder:
        work = Path(folder)
        data = build_file(args.rows, args.existing, rng)
        print(f"file: {args.rows:,} rows, {len(data) / 1e6:.1f} MB; "
              f"{args.existing:,} clients already in the portal", flush=True)  # fmt: skip
        owner = setup(work / "import.db")
        seed_existing(owner, args.existing)
        seconds, job = run_import(owner, data, work)
        columns = [name for name in Client._meta.sorted_field_names if name != "id"]
        created = Client.select(*[Client._meta.fields[c] for c in columns]).where(
            Client.id > args.existing
        )
        stored = db.obj.execute_sql(*created.sql()).fetchall()
        db.close()
        names = [Client._meta.fields[c].column_name for c in columns]
        floors = floor(stored, names, work / "floor.db", args.rounds)

    rate = args.rows / seconds
    floor_seconds = statistics.median(floors)
    floor_rate = len(stored) / floor_seconds
    ok = rate * RATIO_TARGET >= floor_rate
    print(
        f"\nimport: {job.created:,} created, {job.updated:,} updated, {job.skipped:,} skipped, "
        f"{job.rejected:,} rejected in {seconds:.2f} s"
    )
    print(f"{'':<28} {'rows/s':>10}")
    print(f"{'import (whole pipeline)':<28} {rate:>10,.0f}")
    print(f"{'floor (raw executemany)':<28} {floor_rate:>10,.0f}   "
          f"({len(stored):,} rows, median of {len(floors)})")  # fmt: skip
    print(
        f"ratio floor/import {floor_rate / rate:.1f}x (target <= {RATIO_TARGET}x)  "
        f"{'PASS' if ok else 'MISS'}"
    )
    if args.json:
        args.json.write_text(json.dumps({
            "rows": args.rows, "existing": args.existing, "seconds": seconds,
            "rows_per_second": rate, "floor_rows_per_second": floor_rate,
            "floor_seconds": floors, "created": job.created, "updated": job.updated,
            "skipped": job.skipped, "rejected": job.rejected,
        }, indent=2))  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
