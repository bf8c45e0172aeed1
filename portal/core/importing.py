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

from portal import events
from portal.core import fields as f
from portal.core.models import FISCAL_ID_TYPES, Client, Contact, User
from portal.core.tabular import Table
from portal.database import db
from portal.i18n import N_, gettext
from portal.text import clean, fold, is_digits

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
    "owner_email": N_("Owner (user email or name)"),
    "latitude": N_("Latitude"),
    "longitude": N_("Longitude"),
    "is_supplier": N_("Supplier (yes or no)"),
    "discount": N_("Discount percentage"),
    "contact_name": N_("Contact name"),
    "contact_email": N_("Contact email"),
    "contact_phone": N_("Contact phone"),
    "contact_position": N_("Contact position"),
    "external_id": N_("ID in the other system"),
    "record_id": N_("Cartera ID"),
    "fiscal_id_type": N_("Fiscal ID type"),
    "is_company": N_("Is a company (yes or no)"),
    "marketing_opt_out": N_("No marketing (yes or no)"),
}

# Target of each column of a contacts file.
CONTACT_IMPORT_FIELDS: dict[str, str] = {
    "": N_("Ignore this column"),
    "record_id": N_("Cartera contact ID"),
    "name": N_("Name"),
    "first_name": N_("First name"),
    "last_name": N_("Last name"),
    "position": N_("Position"),
    "email": N_("Email"),
    "email_alt": N_("Other email"),
    "phone": N_("Phone"),
    "mobile": N_("Mobile"),
    "language": N_("Preferred language"),
    "marketing_consent": N_("Accepts marketing (yes or no)"),
    "notes": N_("Notes"),
    "external_id": N_("ID in the other system"),
    "company": N_("Client name"),
    "client_fiscal_id": N_("Client fiscal ID"),
    "client_email": N_("Client email"),
    "client_external_id": N_("Client ID in the other system"),
    "client_record_id": N_("Client's Cartera ID"),
    "client_domain": N_("Client web domain"),
    "owner_email": N_("Owner of a new client (user email or name)"),
}

# Header spellings per field, folded and stripped to letters and digits;
# when several columns match one field, the spelling listed first wins.
_HEADER_WORDS: dict[str, str] = {
    "record_id": "carteraid iddecartera",
    "name": (
        "name nombre nombrecompleto fullname accountname cliente client customer "
        "denominacion nombrefiscal"
    ),
    "first_name": "firstname givenname nombrepila",
    "last_name": "apellidos apellido lastname surname familyname",
    # Pipedrive writes "Organization - Name", HubSpot "Company name", Odoo
    # "Related Company".
    "company": (
        "empresa company razonsocial companyname compania sociedad organizacion "
        "organization organisation organizationname relatedcompany empresarelacionada "
        "associatedcompany"
    ),
    "kind": "kind tipo tipocliente tipodecliente clientkind",
    "is_company": "isacompany iscompany esunaempresa esempresa",
    # Salesforce's TYPE holds "Prospect", "Customer - Direct" and the like;
    # HubSpot's lifecycle stage "lead", "opportunity", "customer".
    "status": "status estado situacion fase stage type lifecyclestage etapadelciclodevida",
    "segment": "segment segmento size tamano",
    "zone": "zone zona area region territory territorio ruta",
    "fiscal_id_type": "fiscalidtype tipodeidentificacionfiscal tipoidfiscal tipodocumento",
    "fiscal_id": (
        "nif cif dni nie nifcif cifnif nifdni dninif nifnie idfiscal "
        "identificacionfiscal taxid vat vatnumber vatid fiscalid numerodeidentificacionfiscal"
    ),
    "email": (
        "email correo correoelectronico mail emailaddress correoe organizationemail companyemail"
    ),
    "phone": (
        "phone telefono tel telefonofijo phonenumber telephone fijo organizationphone companyphone"
    ),
    "mobile": "mobile movil telefonomovil celular mobilephone cellphone cell mobilephonenumber",
    "address": (
        "address direccion domicilio calle street billingstreet direccionfiscal "
        "streetaddress mailingstreet shippingstreet billingaddressstreet "
        "organizationaddress addressstreet"
    ),
    "city": (
        "city poblacion ciudad localidad municipio town billingcity mailingcity shippingcity "
        "billingaddresscity organizationcitytownvillagelocality organizationcity addresscity "
        "organizationaddresscitytownvillagelocality"
    ),
    "postal_code": (
        "postalcode codigopostal cp cpostal zip zipcode postcode billingpostalcode "
        "mailingpostalcode shippingpostalcode billingaddresspostalcode "
        "organizationzippostalcode addresspostalcode organizationaddresszippostalcode"
    ),
    "province": (
        "province provincia state county billingstate mailingstate shippingstate "
        "stateregion billingaddressstate organizationstatecounty addressstate stateid "
        "organizationaddressstatecounty"
    ),
    "country": (
        "country pais billingcountry mailingcountry shippingcountry countryregion "
        "billingaddresscountry organizationcountry addresscountry countryid "
        "organizationaddresscountry"
    ),
    "website": (
        "website web paginaweb sitioweb url www webpage companydomainname domain dominio "
        "websiteurl organizationwebsite"
    ),
    "notes": (
        "notes notas nota observaciones comentarios comments description descripcion remarks "
        "internalnotes notasinternas comment"
    ),
    "annual_revenue": (
        "annualrevenue revenue facturacion facturacionanual importe ventas ingresos "
        "volumendenegocio turnover sales ingresosanuales"
    ),
    "employees": (
        "employees empleados numberofemployees numempleados numerodeempleados "
        "numeroempleados noempleados nempleados plantilla trabajadores headcount"
    ),
    "registered_on": (
        "registeredon fechaalta fechadealta alta fecharegistro fechaderegistro "
        "customersince clientesince clientedesde createddate datecreated"
    ),
    # Owners by email or by name: HubSpot's "Contact owner", Odoo's
    # "Salesperson", EspoCRM's "Assigned User", Pipedrive's "Organization - Owner".
    "owner_email": (
        "owneremail owner comercial propietario responsable vendedor agente gestor "
        "salesrep accountowner emailcomercial contactowner companyowner salesperson "
        "assigneduser assignedusername organizationowner personowner usuarioasignado userid"
    ),
    "latitude": "latitude latitud lat",
    "longitude": "longitude longitud lon lng",
    "is_supplier": "supplier proveedor essupplier esproveedor issupplier isavendor",
    "marketing_opt_out": (
        "nomarketing sinmarketing hasoptedoutofemail emailoptout unsubscribed "
        "bajapublicidad nopublicidad marketingoptout sinpublicidad"
    ),
    "discount": (
        "discount descuento dto discountpercent porcentajedescuento discountpercentage "
        "porcentajededescuento"
    ),
    # Salesforce "ID", HubSpot "Record ID", Odoo "External ID", EspoCRM "ID".
    "external_id": (
        "id externalid idexterno recordid accountid organizationid companyid iddelregistro "
        "idintheothersystem idenelotrosistema"
    ),
    "contact_name": (
        "contactname contacto contact personacontacto personadecontacto nombrecontacto personname"
    ),
    "contact_email": (
        "contactemail emailcontacto contactoemail correocontacto personemail personemailwork"
    ),
    "contact_phone": ("contactphone telefonocontacto contactotelefono personphone personphonework"),
    "contact_position": (
        "contactposition cargo puesto position jobtitle title jobposition puestodetrabajo "
        "personjobtitle function"
    ),
}

# The same for contacts files; a company column names the contact's client.
_CONTACT_HEADER_WORDS: dict[str, str] = {
    "record_id": "carteracontactid iddecontactodecartera",
    "client_record_id": "clientscarteraid iddecarteradelcliente carteraid iddecartera",
    "name": "name nombre nombrecompleto fullname contactname contacto personname",
    "first_name": "firstname givenname nombrepila personfirstname",
    "last_name": "apellidos apellido lastname surname familyname personlastname",
    "position": (
        "position cargo puesto jobtitle title jobposition puestodetrabajo personjobtitle role"
    ),
    "email": (
        "email correo correoelectronico mail emailaddress correoe personemail personemailwork"
    ),
    "email_alt": (
        "otheremail otrocorreo otrocorreoelectronico secondaryemail additionalemailaddresses"
    ),
    "phone": "phone telefono tel phonenumber telephone personphone personphonework",
    "mobile": (
        "mobile movil telefonomovil celular mobilephone cellphone mobilephonenumber "
        "personphonemobile"
    ),
    "language": "language idioma lang preferredlanguage idiomapreferido",
    "marketing_consent": (
        "marketingconsent consentimiento aceptapublicidad marketingemailconsent "
        "acceptsmarketing optin consentimientodepublicidad consentimientocomercial"
    ),
    "notes": "notes notas nota observaciones comentarios description descripcion",
    "external_id": (
        "id externalid idexterno recordid contactid personid iddelregistro "
        "idintheothersystem idenelotrosistema"
    ),
    "company": (
        "company empresa companyname accountname organizationname personorganization "
        "relatedcompany empresarelacionada cliente client razonsocial organizacion "
        "associatedcompany clientname nombredelcliente"
    ),
    "client_fiscal_id": (
        "nif cif taxid vat vatnumber companytaxid nifempresa cifempresa clientfiscalid "
        "identificacionfiscaldelcliente"
    ),
    "client_email": "companyemail emailempresa accountemail organizationemail",
    "client_external_id": "accountid companyid organizationid associatedcompanyid clientid",
    "client_domain": "companydomainname domain dominio website web",
    "owner_email": (
        "owner owneremail contactowner propietario responsable comercial salesperson "
        "assigneduser personowner usuarioasignado"
    ),
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
        "lead": (
            "lead contacto nuevo new subscriber suscriptor marketingqualifiedlead "
            "salesqualifiedlead other"
        ),
        "prospect": ("prospect prospecto potencial clientepotencial oportunidad opportunity"),
        "customer": "customer cliente client activo active evangelist",
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
    # An owner's email, or their name as another CRM exports it.
    owner_email: str = ""
    errors: list[tuple[str, str]] = field(default_factory=list)
    # The targets whose cell was filled in: an update changes only those.
    given: set[str] = field(default_factory=set)
    record_id: int | None = None
    # For a contacts file: how to find the contact's client.
    link: dict[str, str] = field(default_factory=dict)

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


def guess_mapping(headers: list[str], kind: str = "clients") -> dict[int, str]:
    """Map column positions to import fields by their header; each field once."""
    keys = [_header_key(header) for header in headers]
    vocabulary = _CONTACT_HEADER_WORDS if kind == "contacts" else _HEADER_WORDS
    words = {target: spellings.split() for target, spellings in vocabulary.items()}
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
    if kind == "clients" and not set(mapping.values()) & set(_NAMING):
        # A people-only export (Pipedrive persons): each person is the client.
        for column, target in mapping.items():
            if target.startswith("contact_") and target != "contact_position":
                mapping[column] = target.removeprefix("contact_")
    return dict(sorted(mapping.items()))


_NAMING = ("name", "company", "first_name", "last_name")

# Headers that tell which program wrote the file, folded as `_header_key` does.
_SOURCES: tuple[tuple[str, str, int], ...] = (
    ("Cartera", "carteraid iddecartera", 1),
    ("Pipedrive", "personname organizationname personemail organizationowner personowner", 1),
    ("HubSpot", "recordid contactowner companyowner companydomainname lifecyclestage", 2),
    (
        "Odoo",
        "isacompany relatedcompany salesperson jobposition street esunaempresa "
        "empresarelacionada taxid iscompany userid stateid countryid parentid",
        2,
    ),
    (
        "EspoCRM",
        "billingaddressstreet billingaddresscity assigneduser assignedusername "
        "emailaddress accountname",
        2,
    ),
)
_SALESFORCE = set(
    "id name type billingstreet billingcity accountid ownerid firstname lastname "
    "mailingstreet annualrevenue numberofemployees parentid".split()
)


def recognise_source(headers: list[str]) -> str:
    """The CRM whose export format the headers follow, or "" when none is clear."""
    keys = {_header_key(header) for header in headers}
    # Salesforce's API names are single upper-case words (BILLINGSTREET).
    api_names = [h for h in headers if h.isupper() and h.replace("_", "").isalnum()]
    if len(api_names) >= 3 and len(keys & _SALESFORCE) >= 3:
        return "Salesforce"
    for source, markers, needed in _SOURCES:
        if len(keys & set(markers.split())) >= needed:
            return source
    return ""


def _header_key(header: str) -> str:
    # "Teléfono 2" and "E-mail" read as "telefono" and "email".
    return re.sub(r"[^a-z0-9]", "", fold(header)).rstrip("0123456789")


# ---------------------------------------------------------- conversion


def day_first_of(table: Table, mapping: dict[int, str], locale: str) -> bool:
    """Whether the file's `a/b/yyyy` dates are day first, from the whole column.

    A value above 12 settles it; a column that never says, or says both, is
    read the way `locale` writes dates, and its impossible dates are errors.
    """
    columns = [column for column, target in mapping.items() if target in _DATE_FIELDS]
    dates = [row[column] for row in table.rows for column in columns]
    found = f.detect_day_first(dates) if dates else None
    return f.locale_day_first(locale) if found is None else found


_DATE_FIELDS = ("registered_on",)


def convert_rows(
    table: Table,
    mapping: dict[int, str],
    *,
    locale: str,
    phone_region: str,
    default_country: str,
    day_first: bool | None = None,
    kind: str = "clients",
) -> list[RowResult]:
    """Check and clean every row; nothing is written to the database.

    `day_first` comes from the whole file when the rows are one part of it.
    """
    known = CONTACT_IMPORT_FIELDS if kind == "contacts" else IMPORT_FIELDS
    unknown = set(mapping.values()) - set(known)
    if unknown:
        raise ValueError(f"unknown import fields: {sorted(unknown)}")
    columns = {target: column for column, target in mapping.items() if target}
    if day_first is None:
        day_first = day_first_of(table, mapping, locale)
    context = _Context(locale, phone_region, default_country, day_first)

    convert = _convert_contact_row if kind == "contacts" else _convert_row
    lines = table.lines or range(2, len(table.rows) + 2)
    return [
        convert(line, {t: row[c] for t, c in columns.items()}, context)
        for line, row in zip(lines, table.rows, strict=True)
    ]


# Our CSV export puts an apostrophe before text a spreadsheet would run as a
# formula; reading it back takes it off, so a round trip changes nothing.
_NEUTRALISED = ("'=", "'+", "'-", "'@")

# Converted first: the country decides how phones read, the type how IDs do.
_FIRST = {"country": 0, "fiscal_id_type": 1}


def _cleaned_cells(
    raw: dict[str, str], context: _Context, result: RowResult
) -> tuple[dict[str, Any], _Context]:
    cleaned: dict[str, Any] = {}
    for target in sorted(raw, key=lambda target: _FIRST.get(target, 2)):
        text = clean(raw[target])
        if text.startswith(_NEUTRALISED):
            text = text[1:]
        if not text:
            continue  # left out, so the model's default applies
        result.given.add(target)
        try:
            if target == "fiscal_id" and "fiscal_id_type" in cleaned:
                cleaned[target] = f.normalise_fiscal_id(text, cleaned["fiscal_id_type"])
            else:
                cleaned[target] = _convert_value(target, text, context)
        except f.FieldError as exc:
            result.errors.append((target, exc.translated()))
        if target == "country" and target in cleaned:
            context = replace(context, phone_region=cleaned[target])
    return cleaned, context


def _convert_row(line: int, raw: dict[str, str], context: _Context) -> RowResult:
    result = RowResult(line=line)
    cleaned, context = _cleaned_cells(raw, context, result)

    cleaned.pop("fiscal_id_type", None)
    fiscal_type, fiscal_id = cleaned.pop("fiscal_id", ("", ""))
    if fiscal_id:
        result.values.update(fiscal_id_type=fiscal_type, fiscal_id=fiscal_id)
        result.given.add("fiscal_id_type")
    for target in _CLIENT_FIELDS:
        if target in cleaned:
            result.values[target] = cleaned[target]
    result.values["country"] = cleaned.get("country") or context.default_country
    result.owner_email = cleaned.get("owner_email", "")
    result.record_id = cleaned.get("record_id")
    if "is_company" in cleaned and "kind" not in cleaned:
        cleaned["kind"] = "company" if cleaned["is_company"] else "person"
        result.given.add("kind")

    # Beside a company column, or split in parts, a name is a person's.
    of_person = not raw.keys().isdisjoint(("first_name", "last_name", "company"))
    _settle_names(result, cleaned, fiscal_type, of_person)
    return result


def _convert_contact_row(line: int, raw: dict[str, str], context: _Context) -> RowResult:
    result = RowResult(line=line)
    cleaned, context = _cleaned_cells(raw, context, result)

    parts = (cleaned.get("first_name", ""), cleaned.get("last_name", ""))
    name = cleaned.get("name", "") or " ".join(p for p in parts if p)
    if not name:
        result.errors.append(("name", gettext("A name is required")))
    elif len(name) > _max_length(Contact, "name"):
        limit = _max_length(Contact, "name")
        result.errors.append(
            ("name", gettext("Too long (at most %(limit)s characters)", limit=limit))
        )
    result.values["name"] = name
    if name and not result.given.isdisjoint(_NAMING):
        result.given.add("name")
    for target in _CONTACT_FIELDS:
        if target in cleaned:
            result.values[target] = cleaned[target]
    if "marketing_consent" in cleaned:
        result.values["marketing_consent"] = (
            "given" if cleaned["marketing_consent"] else "withdrawn"
        )
    for target in _LINK_FIELDS:
        if target in cleaned:
            result.link[target] = cleaned[target]
    fiscal = result.link.get("client_fiscal_id")
    if fiscal:
        result.link["client_fiscal_id"] = fiscal[1]
    result.owner_email = cleaned.get("owner_email", "")
    result.record_id = cleaned.get("record_id")
    if "client_record_id" in result.link:
        result.link["client_record_id"] = str(result.link["client_record_id"])
    if not result.link and not result.errors:
        message = gettext("Say which client: a client name, fiscal ID or email column")
        result.errors.append(("company", message))
    return result


_CONTACT_FIELDS = (
    "position", "email", "email_alt", "phone", "mobile", "language", "notes", "external_id",
)  # fmt: skip
_LINK_FIELDS = (
    "company",
    "client_fiscal_id",
    "client_email",
    "client_external_id",
    "client_record_id",
    "client_domain",
)


def _settle_names(
    result: RowResult, cleaned: dict[str, Any], fiscal_type: str, of_person: bool
) -> None:
    """Choose the client's name and kind, and who becomes its contact."""
    company = cleaned.get("company", "")
    parts = (cleaned.get("first_name", ""), cleaned.get("last_name", ""))
    person = cleaned.get("name", "") or " ".join(p for p in parts if p)
    name = company or person
    if name:
        result.given.add("name")

    kind = cleaned.get("kind")
    if kind:
        result.given.add("kind")
    else:
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


_LANGUAGES = {"es": "es", "espanol": "es", "spanish": "es", "castellano": "es",
              "en": "en", "ingles": "en", "english": "en"}  # fmt: skip


def _convert_value(target: str, text: str, context: _Context) -> Any:
    match target:
        case "email" | "contact_email" | "email_alt" | "client_email":
            return f.normalise_email(text)
        case "owner_email":
            return f.normalise_email(text) if "@" in text else f.clean_text(text, 150)
        case "phone" | "mobile" | "contact_phone":
            return f.normalise_phone(text, context.phone_region)
        case "fiscal_id" | "client_fiscal_id":
            return f.normalise_fiscal_id(text, None)
        case "fiscal_id_type":
            return _fiscal_type(text)
        case "website":
            return f.normalise_website(text)
        case "client_domain":
            return _domain(text)
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
        case "is_supplier" | "is_company" | "marketing_opt_out" | "marketing_consent":
            return _yes_no(text)
        case "discount":
            return _percentage(text, context.locale)
        case "record_id" | "client_record_id":
            if not is_digits(text) or len(text) > 18:
                raise f.FieldError("Not a whole number")
            return int(text)
        case "language":
            language = _LANGUAGES.get(_header_key(text)[:10]) or _LANGUAGES.get(
                fold(text)[:2].lower()
            )
            if language is None:
                raise f.FieldError("Not one of: %(choices)s", choices="es, en")
            return language
        case "external_id" | "client_external_id":
            return f.clean_text(text, _max_length(Client, "external_id"))
        case "company":
            return f.clean_text(text, _max_length(Client, "name"))
    if target.startswith("contact_"):
        limit = _max_length(Contact, target.removeprefix("contact_"))
    elif target in Contact._meta.fields and target not in Client._meta.fields:
        limit = _max_length(Contact, target)
    else:
        # Parts of a name get the limit of the whole name.
        limit = _max_length(Client, target if target in _CLIENT_FIELDS else "name")
    return f.clean_text(text, limit)


def _fiscal_type(text: str) -> str:
    key = _header_key(text)
    if key in FISCAL_ID_TYPES:
        return key
    raise f.FieldError("Not one of: %(choices)s", choices=", ".join(FISCAL_ID_TYPES))


def _domain(text: str) -> str:
    """`acme.example` from a domain, a web address or an email address."""
    host = fold(text).rpartition("@")[2]
    host = re.sub(r"^[a-z]+://", "", host).split("/")[0].removeprefix("www.")
    if "." not in host or not re.fullmatch(r"[a-z0-9.-]+", host):
        raise f.FieldError("Not a valid web address")
    return host


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


# A consent exported as its state reads back as yes or no.
_YES = frozenset("yes y si s true verdadero 1 x given dado otorgado".split())
_NO = frozenset("no n false falso 0 withdrawn retirado".split())


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
    if name in Client._meta.fields and name not in ("name", "fiscal_id", "fiscal_id_type")
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
            events.emit("client_created", client_id=client.id, actor_id=None)
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
