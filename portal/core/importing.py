"""Turn the rows of an uploaded table into clients, in two steps.

`convert_rows` checks and cleans every row without touching the database, so
the user can review the errors; `write_clients` then stores the good rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import peewee as pw

from portal.core import fields as f
from portal.core.models import Client, Contact, User
from portal.core.tabular import Table
from portal.database import db
from portal.i18n import N_, gettext
from portal.text import clean, fold

# Target of each column (English labels, for the web layer to translate).
IMPORT_FIELDS: dict[str, str] = {
    "": N_("Ignore this column"),
    "name": N_("Name"),
    "first_name": N_("First name"),
    "last_name": N_("Last name"),
    "company": N_("Company"),
    "kind": N_("Kind (company or person)"),
    "status": N_("Status"),
    "segment": N_("Segment"),
    "zone": N_("Zone"),
    "fiscal_id": N_("Fiscal ID (NIF, NIE, CIF)"),
    "email": N_("Email"),
    "phone": N_("Phone"),
    "mobile": N_("Mobile"),
    "address": N_("Address"),
    "city": N_("City"),
    "postal_code": N_("Postal code"),
    "province": N_("Province or state"),
    "country": N_("Country"),
    "website": N_("Website"),
    "notes": N_("Notes"),
    "annual_revenue": N_("Annual revenue"),
    "employees": N_("Employees"),
    "registered_on": N_("Customer since"),
    "owner_email": N_("Owner (user email)"),
    "latitude": N_("Latitude"),
    "longitude": N_("Longitude"),
    "is_supplier": N_("Supplier (yes or no)"),
    "discount": N_("Discount percentage"),
    "contact_name": N_("Contact name"),
    "contact_email": N_("Contact email"),
    "contact_phone": N_("Contact phone"),
    "contact_position": N_("Contact position"),
}

# Header spellings per field, folded and stripped to letters and digits;
# when several columns match one field, the spelling listed first wins.
_HEADER_WORDS: dict[str, str] = {
    "name": (
        "name nombre nombrecompleto fullname accountname cliente client customer "
        "denominacion nombrefiscal"
    ),
    "first_name": "firstname givenname nombrepila",
    "last_name": "apellidos apellido lastname surname familyname",
    "company": (
        "empresa company razonsocial companyname compania sociedad organizacion "
        "organization organisation"
    ),
    "kind": "kind tipo tipocliente tipodecliente clientkind",
    # Salesforce's TYPE holds "Prospect", "Customer - Direct" and the like.
    "status": "status estado situacion fase stage type",
    "segment": "segment segmento size tamano",
    "zone": "zone zona area region territory territorio ruta",
    "fiscal_id": (
        "nif cif dni nie nifcif cifnif nifdni dninif nifnie idfiscal "
        "identificacionfiscal taxid vat vatnumber vatid"
    ),
    "email": "email correo correoelectronico mail emailaddress correoe",
    "phone": "phone telefono tel telefonofijo phonenumber telephone fijo",
    "mobile": "mobile movil telefonomovil celular mobilephone cellphone cell",
    "address": (
        "address direccion domicilio calle street billingstreet direccionfiscal "
        "streetaddress mailingstreet shippingstreet"
    ),
    "city": ("city poblacion ciudad localidad municipio town billingcity mailingcity shippingcity"),
    "postal_code": (
        "postalcode codigopostal cp cpostal zip zipcode postcode billingpostalcode "
        "mailingpostalcode shippingpostalcode"
    ),
    "province": ("province provincia state county billingstate mailingstate shippingstate"),
    "country": "country pais billingcountry mailingcountry shippingcountry",
    "website": "website web paginaweb sitioweb url www webpage",
    "notes": (
        "notes notas nota observaciones comentarios comments description descripcion remarks"
    ),
    "annual_revenue": (
        "annualrevenue revenue facturacion facturacionanual importe ventas ingresos "
        "volumendenegocio turnover sales"
    ),
    "employees": (
        "employees empleados numberofemployees numempleados numerodeempleados "
        "numeroempleados noempleados nempleados plantilla trabajadores headcount"
    ),
    "registered_on": (
        "registeredon fechaalta fechadealta alta fecharegistro fechaderegistro "
        "customersince clientesince clientedesde createddate datecreated"
    ),
    "owner_email": (
        "owneremail owner comercial propietario responsable vendedor agente gestor "
        "salesrep accountowner emailcomercial"
    ),
    "latitude": "latitude latitud lat",
    "longitude": "longitude longitud lon lng",
    "is_supplier": "supplier proveedor essupplier esproveedor issupplier",
    "discount": "discount descuento dto discountpercent porcentajedescuento",
    "contact_name": (
        "contactname contacto contact personacontacto personadecontacto nombrecontacto"
    ),
    "contact_email": "contactemail emailcontacto contactoemail correocontacto",
    "contact_phone": "contactphone telefonocontacto contactotelefono",
    "contact_position": "contactposition cargo puesto position jobtitle title",
}

# Cell values accepted for the fields with a fixed set of choices.
_CHOICE_WORDS: dict[str, dict[str, str]] = {
    "kind": {
        "company": (
            "company empresa sociedad organizacion organization business juridica personajuridica"
        ),
        "person": ("person persona particular individual fisica personafisica autonomo freelance"),
    },
    "status": {
        "lead": "lead contacto nuevo new",
        "prospect": ("prospect prospecto potencial clientepotencial oportunidad opportunity"),
        "customer": "customer cliente client activo active",
    },
    "segment": {
        "large": "large grande gran big enterprise",
        "medium": "medium mediana mediano media mid",
        "small": "small pequena pequeno micro",
    },
}

# Legal forms that mark a name as a company's ("Ñandú Soluciones SL").
_LEGAL_FORM = re.compile(
    r"\b(s\.?l\.?u?|s\.?a\.?u?|s\.?coop|c\.?b|inc|ltd|llc|gmbh|corp|sarl|sas)"
    r"\.?$",
    re.IGNORECASE,
)

_REVENUE_LIMIT = Decimal(10) ** 14
_EMPLOYEES_LIMIT = 10**9  # the column has 16 digits, 2 decimal


@dataclass
class RowResult:
    """One converted row; `values` holds Client fields ready to assign."""

    line: int
    values: dict[str, Any] = field(default_factory=dict)
    contact: dict[str, str] | None = None
    owner_email: str = ""
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ImportSummary:
    created: int = 0
    contacts: int = 0
    # (line, field, message) for every row left out.
    rejected: list[tuple[int, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Context:
    locale: str
    phone_region: str
    default_country: str
    day_first: bool


# ------------------------------------------------------------- mapping


def guess_mapping(headers: list[str]) -> dict[int, str]:
    """Map column positions to import fields by their header; each field once."""
    keys = [_header_key(header) for header in headers]
    words = {target: spellings.split() for target, spellings in _HEADER_WORDS.items()}
    if not set(keys).isdisjoint(words["last_name"]):
        # Next to "Apellidos", "Nombre" is the first name, not the full one.
        words["first_name"].append("nombre")
        words["name"].remove("nombre")

    claims = []
    for column, key in enumerate(keys):
        for target, spellings in words.items():
            if key in spellings:
                claims.append((spellings.index(key), column, target))
    mapping: dict[int, str] = {}
    for _, column, target in sorted(claims):
        if column not in mapping and target not in mapping.values():
            mapping[column] = target
    return dict(sorted(mapping.items()))


def _header_key(header: str) -> str:
    # "Teléfono 2" and "E-mail" read as "telefono" and "email".
    return re.sub(r"[^a-z0-9]", "", fold(header)).rstrip("0123456789")


# ---------------------------------------------------------- conversion


def convert_rows(
    table: Table,
    mapping: dict[int, str],
    *,
    locale: str,
    phone_region: str,
    default_country: str,
) -> list[RowResult]:
    """Check and clean every row; nothing is written to the database."""
    unknown = set(mapping.values()) - set(IMPORT_FIELDS)
    if unknown:
        raise ValueError(f"unknown import fields: {sorted(unknown)}")
    columns = {target: column for column, target in mapping.items() if target}

    day_first = None
    if "registered_on" in columns:
        dates = [row[columns["registered_on"]] for row in table.rows]
        day_first = f.detect_day_first(dates)
    if day_first is None:
        day_first = f.locale_day_first(locale)
    context = _Context(locale, phone_region, default_country, day_first)

    lines = table.lines or range(2, len(table.rows) + 2)
    return [
        _convert_row(line, {t: row[c] for t, c in columns.items()}, context)
        for line, row in zip(lines, table.rows, strict=True)
    ]


def _convert_row(line: int, raw: dict[str, str], context: _Context) -> RowResult:
    result = RowResult(line=line)
    cleaned: dict[str, Any] = {}
    # The country goes first: national phone numbers are read as its own.
    for target in sorted(raw, key=lambda target: target != "country"):
        text = clean(raw[target])
        if not text:
            continue  # left out, so the model's default applies
        try:
            cleaned[target] = _convert_value(target, text, context)
        except f.FieldError as exc:
            result.errors.append((target, exc.translated()))
        if target == "country" and target in cleaned:
            context = replace(context, phone_region=cleaned[target])

    fiscal_type, fiscal_id = cleaned.pop("fiscal_id", ("", ""))
    if fiscal_id:
        result.values.update(fiscal_id_type=fiscal_type, fiscal_id=fiscal_id)
    for target in _CLIENT_FIELDS:
        if target in cleaned:
            result.values[target] = cleaned[target]
    result.values["country"] = cleaned.get("country") or context.default_country
    result.owner_email = cleaned.get("owner_email", "")

    # Beside a company column, or split in parts, a name is a person's.
    of_person = not raw.keys().isdisjoint(("first_name", "last_name", "company"))
    _settle_names(result, cleaned, fiscal_type, of_person)
    return result


def _settle_names(
    result: RowResult, cleaned: dict[str, Any], fiscal_type: str, of_person: bool
) -> None:
    """Choose the client's name and kind, and who becomes its contact."""
    company = cleaned.get("company", "")
    parts = (cleaned.get("first_name", ""), cleaned.get("last_name", ""))
    person = cleaned.get("name", "") or " ".join(p for p in parts if p)
    name = company or person

    kind = cleaned.get("kind")
    if not kind:
        if company or fiscal_type == "cif" or _LEGAL_FORM.search(name):
            kind = "company"
        elif fiscal_type in ("nif", "nie") or of_person:
            kind = "person"
        else:
            kind = "company"
    result.values.update(name=name, kind=kind)
    if not name:
        result.errors.append(("name", gettext("A name is required")))
    else:
        try:
            f.clean_text(name, _max_length(Client, "name"))
        except f.FieldError as exc:
            result.errors.append(("name", exc.translated()))

    contact = {
        "name": cleaned.get("contact_name", "") or (person if company else ""),
        "email": cleaned.get("contact_email", ""),
        "phone": cleaned.get("contact_phone", ""),
        "position": cleaned.get("contact_position", ""),
    }
    if contact["name"]:
        result.contact = contact
    elif any(contact.values()):
        result.errors.append(("contact_name", gettext("A contact needs a name")))


def _convert_value(target: str, text: str, context: _Context) -> Any:
    match target:
        case "email" | "contact_email" | "owner_email":
            return f.normalise_email(text)
        case "phone" | "mobile" | "contact_phone":
            return f.normalise_phone(text, context.phone_region)
        case "fiscal_id":
            return f.normalise_fiscal_id(text, None)
        case "website":
            return f.normalise_website(text)
        case "country":
            return f.normalise_country(text)
        case "kind" | "status" | "segment":
            return _choice(target, text)
        case "annual_revenue":
            return _revenue(text, context.locale)
        case "employees":
            return _employees(text, context.locale)
        case "registered_on":
            return f.parse_date(text, context.day_first)
        case "latitude" | "longitude":
            limit = 90 if target == "latitude" else 180
            return _coordinate(text, context.locale, limit)
        case "is_supplier":
            return _yes_no(text)
        case "discount":
            return _percentage(text, context.locale)
    if target.startswith("contact_"):
        limit = _max_length(Contact, target.removeprefix("contact_"))
    else:
        # Parts of a name get the limit of the whole name.
        limit = _max_length(Client, target if target in _CLIENT_FIELDS else "name")
    return f.clean_text(text, limit)


def _choice(target: str, text: str) -> str:
    key = _header_key(text)
    # "Customer - Direct" is read by its first word when the whole is unknown.
    first_word = re.split(r"[^a-z0-9]+", fold(text).strip())[0]
    choices = _CHOICE_WORDS[target]
    for candidate in (key, first_word):
        for value, words in choices.items():
            if candidate == value or candidate in words.split():
                return value
    choices = ", ".join(_CHOICE_WORDS[target])
    raise f.FieldError("Not one of: %(choices)s", choices=choices)


def _revenue(text: str, locale: str) -> Decimal:
    amount = f.parse_decimal(text, locale)
    if abs(amount) >= _REVENUE_LIMIT:
        raise f.FieldError("Number too large")
    return amount


def _employees(text: str, locale: str) -> int:
    count = f.parse_decimal(text, locale)
    if count != count.to_integral_value() or count < 0:
        raise f.FieldError("Not a whole number")
    if count > _EMPLOYEES_LIMIT:
        raise f.FieldError("Number too large")
    return int(count)


_YES = frozenset("yes y si s true verdadero 1 x".split())
_NO = frozenset("no n false falso 0".split())


def _yes_no(text: str) -> bool:
    word = _header_key(text)
    if word in _YES:
        return True
    if word in _NO:
        return False
    raise f.FieldError("Write yes or no")


def _percentage(text: str, locale: str) -> Decimal:
    value = f.parse_decimal(text.strip().removesuffix("%").strip(), locale)
    if not 0 <= value <= 100:
        raise f.FieldError("A percentage between 0 and 100")
    return value.quantize(Decimal("0.01"))


def _coordinate(text: str, locale: str, limit: int) -> Decimal:
    degrees = f.parse_decimal(text, locale)
    if abs(degrees) > limit:
        raise f.FieldError("Out of range (-%(limit)s to %(limit)s)", limit=limit)
    return degrees.quantize(Decimal("0.000001"))


# Import fields that are Client fields of the same name.
_CLIENT_FIELDS = tuple(
    name
    for name in IMPORT_FIELDS
    if name in Client._meta.fields and name not in ("name", "kind", "fiscal_id")
)


def _max_length(model: type[pw.Model], name: str) -> int:
    return getattr(model._meta.fields[name], "max_length", None) or 100_000


# -------------------------------------------------------------- writing


def write_clients(
    results: Iterable[RowResult],
    *,
    owner_for: Callable[[str], User | None],
    default_owner: User,
) -> ImportSummary:
    """Store the rows without errors, in one transaction.

    `owner_for` turns a row's owner email into a user the importing person may
    assign clients to, or None, which rejects the row.
    """
    summary = ImportSummary()
    owners: dict[str, User | None] = {}
    with db.atomic():
        for result in results:
            if result.errors:
                summary.rejected += [(result.line, *error) for error in result.errors]
                continue
            owner = default_owner
            if result.owner_email:
                if result.owner_email not in owners:
                    owners[result.owner_email] = owner_for(result.owner_email)
                owner = owners[result.owner_email]
            if owner is None:
                message = gettext(
                    "Unknown owner, or not one you may choose: %(email)s",
                    email=result.owner_email,
                )
                summary.rejected.append((result.line, "owner_email", message))
                continue

            client = Client(owner=owner, **result.values)
            client.reindex()
            client.save()
            summary.created += 1
            if result.contact:
                Contact.create(client=client, **result.contact)
                summary.contacts += 1
    return summary


# ---------------------------------------------------- the file's number format

# Only unmistakable spellings vote: "1.000" and "25,000" read either way.
_COMMA_DECIMAL = re.compile(
    r"-?\d{1,3}(\.\d{3})+,\d+|-?\d{1,3}(\.\d{3}){2,}|-?\d+,(\d{1,2}|\d{4,})"
)
_DOT_DECIMAL = re.compile(r"-?\d{1,3}(,\d{3})+\.\d+|-?\d{1,3}(,\d{3}){2,}|-?\d+\.(\d{1,2}|\d{4,})")
_NUMERIC_FIELDS = ("annual_revenue", "employees", "latitude", "longitude")


def guess_number_format(table: Table, mapping: dict[int, str]) -> str | None:
    """ "es" (1.234,56) or "en" (1,234.56) as the file's numbers show, or None.

    "1.000" or "25,000" say nothing by themselves; "1.234,56", "-7,50" or
    "1,250,000.50" do, so the whole of each numeric column is read. Dates do
    not vote: Mexico writes 31/01/2024 beside 1,250.50.
    """
    votes = {"es": 0, "en": 0}
    for column, target in mapping.items():
        values = [row[column] for row in table.rows]
        if target in _NUMERIC_FIELDS:
            for value in values:
                text = value.replace(" ", "").lstrip("€$").rstrip("€$")
                if _COMMA_DECIMAL.fullmatch(text):
                    votes["es"] += 1
                elif _DOT_DECIMAL.fullmatch(text):
                    votes["en"] += 1
    if votes["es"] == votes["en"]:
        return None
    return "es" if votes["es"] > votes["en"] else "en"
