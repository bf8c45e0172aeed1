"""Demo data for a believable sales company, drawn from one seed.

`build_demo` fills an empty database with "Distribuciones Alcor": a profile tree,
about twenty-five staff and thousands of Spanish and Latin-American clients with
contacts and activities. Every value comes from one seeded `random.Random` in a
fixed order, so the same seed and day always give the same rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import string
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from time import perf_counter
from typing import NamedTuple
from zoneinfo import ZoneInfo

import peewee as pw
import phonenumbers
import pluggy
from stdnum.ar import cuit
from stdnum.cl import rut
from stdnum.es import cif, dni, nie
from stdnum.mx import rfc

from portal.core import catalogue, webforms
from portal.core.demo_agenda import create_tasks
from portal.core.demo_pipeline import create_opportunities
from portal.core.models import (
    Activity,
    AssignmentRule,
    AssignmentRuleUser,
    Client,
    ClientTag,
    ConsentRecord,
    Contact,
    Opportunity,
    Profile,
    Tag,
    User,
    WebForm,
    Zone,
)
from portal.core.passwords import MIN_LENGTH, hash_password
from portal.core.permissions import read_grants, write_grants
from portal.core.restrictions import TAG_KEY
from portal.database import db, utcnow
from portal.text import fold

logger = logging.getLogger(__name__)

DOMAIN = "alcor.example"
# Rows per INSERT: well under SQLite's and PostgreSQL's bound-parameter limits.
_BATCH = 500


@dataclass(frozen=True)
class DemoAccounts:
    """Whom to log in as after `build_demo`; every account shares `password`."""

    admin: str
    director: str
    manager: str
    sales_head: str
    salesperson: str
    back_office: str
    technician: str
    password: str

    def logins(self) -> list[tuple[str, str]]:
        """(role, email) pairs in the order a listing should show them."""
        return [
            (field.name, getattr(self, field.name))
            for field in fields(self)
            if field.name != "password"
        ]


class DemoDatabaseNotEmpty(RuntimeError):
    """Raised so demo rows never mix with real ones."""


# ---------------------------------------------------------------- organisation

# name | kind | parent | assistant. Parents come before their children.
_PROFILES = """
Dirección Comercial|hierarchical||
Dirección Iberia|hierarchical|Dirección Comercial|
Dirección Latam|hierarchical|Dirección Comercial|
Jefatura Centro|hierarchical|Dirección Iberia|
Jefatura Norte|hierarchical|Dirección Iberia|
Jefatura Sur|hierarchical|Dirección Iberia|
Jefatura México|hierarchical|Dirección Latam|
Jefatura Cono Sur|hierarchical|Dirección Latam|
Comercial Centro|hierarchical|Jefatura Centro|
Comercial Norte|hierarchical|Jefatura Norte|
Comercial Sur|hierarchical|Jefatura Sur|
Comercial México|hierarchical|Jefatura México|
Comercial Cono Sur|hierarchical|Jefatura Cono Sur|
Asistencia técnica Centro|hierarchical|Jefatura Centro|assistant
Back office|structural||
Administración del sistema|structural||
"""

_CLIENT_MENUS = {
    "menu.agenda": "",
    "menu.clients": "",
    "menu.clients.import": "",
    "menu.clients.export": "",
    "menu.opportunities": "",
    "menu.opportunities.funnel": "",
    "opportunities.edit": "",
    "menu.vacations": "",
    "menu.vacations.calendar": "",
}
_APPROVALS = {"menu.vacations.approvals": ""}
# What each kind of profile holds, by the start of its name; see permissions.py.
_GRANTS = {
    "Dirección": {
        **_CLIENT_MENUS,
        **_APPROVALS,
        "tasks.delete": "",
        "menu.admin": "",
        "menu.admin.users": "",
        "menu.admin.permissions": "",
        "menu.admin.portfolio": "",
        "menu.admin.webforms": "",
        "menu.leads": "",
        "menu.admin.mail": "",
        "menu.admin.pipelines": "",
        "clients.bulk": "",
        "clients.gdpr": "",
        "clients.discount": "25",
        "clients.coordinates": "",
        "clients.supplier": "",
        "clients.visible_to_all": "",
    },
    "Jefatura": {
        **_CLIENT_MENUS,
        **_APPROVALS,
        "menu.leads": "",
        # Heads tidy their team's agenda.
        "tasks.delete": "",
        "clients.bulk": "",
        "clients.discount": "15",
        "clients.coordinates": "",
    },
    "Comercial": {**_CLIENT_MENUS, "clients.discount": "10"},
    "Asistencia": {
        "menu.agenda": "",
        "menu.clients": "",
        "menu.opportunities": "",
        "menu.vacations": "",
        "menu.vacations.calendar": "",
        "clients.coordinates": "",
    },
    "Back office": {
        **_CLIENT_MENUS,
        "clients.discount": "5",
        "clients.bulk": "",
        "clients.gdpr": "",
        "clients.coordinates": "",
        "clients.supplier": "",
        "clients.fiscal_id_other": "",
        "clients.visible_to_all": "",
        # Back office keeps the client base clean.
        "clients.merge": "",
    },
    "Administración": {},
}

# name | colour | profiles (by the start of their name) that may assign or remove it
_TAGS = """
VIP|#b8860b|Dirección;Jefatura;Back office
Distribuidor|#2f6f4f|Dirección;Jefatura;Comercial;Back office
Sector público|#3b5b92|Dirección;Back office
Moroso|#a33b3b|Back office
"""

# role | name | profile | language | time zone | zones whose clients they own.
# A line ending in a backslash goes on in the next (Python joins them).
# The first person of each role is the one `DemoAccounts` names.
_STAFF = """
admin|Marta Quintana Ibáñez|Administración del sistema|es|Europe/Madrid|
director|Javier Otero Lozano|Dirección Comercial|es|Europe/Madrid|
manager|Lucía Ferrer Campos|Dirección Iberia|es|Europe/Madrid|
manager|Alejandro Ríos Maldonado|Dirección Latam|en|America/Mexico_City|
head|Elena Navarro Gil|Jefatura Centro|es|Europe/Madrid|Madrid
head|Iñaki Etxeberria Urrutia|Jefatura Norte|es|Europe/Madrid|País Vasco
head|Rocío Márquez Vidal|Jefatura Sur|es|Europe/Madrid|Andalucía
head|Guadalupe Hernández Soto|Jefatura México|es|America/Mexico_City|CDMX
head|Martín Acosta Figueroa|Jefatura Cono Sur|es|America/Argentina/Buenos_Aires|Buenos Aires
sales|Pablo Serrano Cano|Comercial Centro|es|Europe/Madrid|Madrid
sales|Nuria Blanco Pastor|Comercial Centro|es|Europe/Madrid|Madrid;Castilla-La Mancha
sales|Sergio Muñoz Calvo|Comercial Centro|es|Europe/Madrid|Castilla y León
sales|Ane Zubizarreta Goñi|Comercial Norte|es|Europe/Madrid|País Vasco;Navarra
sales|Jordi Puig Soler|Comercial Norte|es|Europe/Madrid|Cataluña;Aragón
sales|Carmen Castro Rey|Comercial Norte|es|Europe/Madrid|Galicia;Asturias
sales|Antonio Jiménez Moreno|Comercial Sur|es|Europe/Madrid|Andalucía
sales|Vicente Llorens Martí|Comercial Sur|es|Europe/Madrid|\
Comunitat Valenciana;Región de Murcia;Illes Balears
sales|Yeray Santana Déniz|Comercial Sur|es|Atlantic/Canary|Canarias
sales|Diego Castañeda Villalobos|Comercial México|es|America/Mexico_City|\
CDMX;Estado de México;Puebla
sales|Ximena Orozco Parra|Comercial México|es|America/Mexico_City|Jalisco;Guanajuato;Querétaro
sales|Sofía Treviño Garza|Comercial México|es|America/Monterrey|Nuevo León
sales|Catalina Fuentes Araya|Comercial Cono Sur|es|America/Santiago|Santiago;Valparaíso;Biobío
sales|Tomás Gutiérrez Benítez|Comercial Cono Sur|es|America/Argentina/Buenos_Aires|\
Buenos Aires;Córdoba;Santa Fe;Mendoza
back_office|Rosa Domínguez Prieto|Back office|es|Europe/Madrid|
back_office|Olivia Grant Ortega|Back office|en|Europe/Madrid|
technician|Raúl Peinado Cuesta|Asistencia técnica Centro|es|Europe/Madrid|
"""

# Heads keep a few accounts of their own; salespeople carry the portfolio.
_OWNER_WEIGHTS = {"sales": 1.0, "head": 0.15}

# ---------------------------------------------------------------- geography

# country | city | province | zone | postal range | landline area | lat | lon.
# Argentine postal codes are CPAs: province letter, four digits, three letters.
_CITY_TABLE = """
ES|Madrid|Madrid|Madrid|28001-28055|91|40.4168|-3.7038
ES|Alcalá de Henares|Madrid|Madrid|28801-28807|91|40.4820|-3.3635
ES|Getafe|Madrid|Madrid|28901-28909|91|40.3057|-3.7329
ES|Valladolid|Valladolid|Castilla y León|47001-47016|983|41.6523|-4.7245
ES|Burgos|Burgos|Castilla y León|09001-09007|947|42.3439|-3.6969
ES|Salamanca|Salamanca|Castilla y León|37001-37008|923|40.9701|-5.6635
ES|Toledo|Toledo|Castilla-La Mancha|45001-45008|925|39.8628|-4.0273
ES|Albacete|Albacete|Castilla-La Mancha|02001-02008|967|38.9943|-1.8585
ES|Bilbao|Bizkaia|País Vasco|48001-48015|944|43.2630|-2.9350
ES|San Sebastián|Gipuzkoa|País Vasco|20001-20018|943|43.3183|-1.9812
ES|Vitoria-Gasteiz|Álava|País Vasco|01001-01015|945|42.8467|-2.6716
ES|Pamplona|Navarra|Navarra|31001-31016|948|42.8125|-1.6458
ES|A Coruña|A Coruña|Galicia|15001-15011|981|43.3623|-8.4115
ES|Vigo|Pontevedra|Galicia|36201-36216|986|42.2406|-8.7207
ES|Oviedo|Asturias|Asturias|33001-33013|985|43.3614|-5.8494
ES|Gijón|Asturias|Asturias|33201-33213|985|43.5322|-5.6611
ES|Barcelona|Barcelona|Cataluña|08001-08042|93|41.3874|2.1686
ES|Sabadell|Barcelona|Cataluña|08201-08208|93|41.5463|2.1086
ES|Girona|Girona|Cataluña|17001-17007|972|41.9794|2.8214
ES|Zaragoza|Zaragoza|Aragón|50001-50018|976|41.6488|-0.8891
ES|Sevilla|Sevilla|Andalucía|41001-41020|954|37.3891|-5.9845
ES|Málaga|Málaga|Andalucía|29001-29018|952|36.7213|-4.4214
ES|Córdoba|Córdoba|Andalucía|14001-14014|957|37.8882|-4.7794
ES|Granada|Granada|Andalucía|18001-18015|958|37.1773|-3.5986
ES|Jerez de la Frontera|Cádiz|Andalucía|11401-11408|956|36.6850|-6.1261
ES|Valencia|Valencia|Comunitat Valenciana|46001-46026|963|39.4699|-0.3763
ES|Alicante|Alicante|Comunitat Valenciana|03001-03016|965|38.3452|-0.4810
ES|Murcia|Murcia|Región de Murcia|30001-30012|968|37.9922|-1.1307
ES|Palma|Illes Balears|Illes Balears|07001-07015|971|39.5696|2.6502
ES|Las Palmas de Gran Canaria|Las Palmas|Canarias|35001-35019|928|28.1235|-15.4363
ES|Santa Cruz de Tenerife|Santa Cruz de Tenerife|Canarias|38001-38010|922|28.4636|-16.2518
MX|Ciudad de México|Ciudad de México|CDMX|01000-16999|55|19.4326|-99.1332
MX|Naucalpan de Juárez|Estado de México|Estado de México|53000-53990|55|19.4785|-99.2396
MX|Guadalajara|Jalisco|Jalisco|44100-44990|33|20.6597|-103.3496
MX|Zapopan|Jalisco|Jalisco|45010-45200|33|20.7236|-103.3848
MX|Monterrey|Nuevo León|Nuevo León|64000-64990|81|25.6866|-100.3161
MX|San Pedro Garza García|Nuevo León|Nuevo León|66200-66290|81|25.6573|-100.4029
MX|Puebla|Puebla|Puebla|72000-72590|222|19.0414|-98.2063
MX|Querétaro|Querétaro|Querétaro|76000-76250|442|20.5888|-100.3899
MX|León|Guanajuato|Guanajuato|37000-37690|477|21.1250|-101.6860
CL|Santiago|Región Metropolitana|Santiago|8320000-8380000|22|-33.4489|-70.6693
CL|Providencia|Región Metropolitana|Santiago|7500000-7520000|22|-33.4314|-70.6093
CL|Las Condes|Región Metropolitana|Santiago|7550000-7590000|22|-33.4080|-70.5670
CL|Valparaíso|Valparaíso|Valparaíso|2340000-2390000|32|-33.0472|-71.6127
CL|Viña del Mar|Valparaíso|Valparaíso|2520000-2580000|32|-33.0245|-71.5518
CL|Concepción|Biobío|Biobío|4030000-4100000|41|-36.8201|-73.0444
AR|Buenos Aires|Ciudad Autónoma de Buenos Aires|Buenos Aires|C1000-1440|11|-34.6037|-58.3816
AR|La Plata|Buenos Aires|Buenos Aires|B1900-1909|221|-34.9214|-57.9545
AR|Córdoba|Córdoba|Córdoba|X5000-5020|351|-31.4201|-64.1888
AR|Rosario|Santa Fe|Santa Fe|S2000-2013|341|-32.9442|-60.6505
AR|Mendoza|Mendoza|Mendoza|M5500-5519|261|-32.8895|-68.8458
"""

_POSTAL_WIDTH = {"ES": 5, "MX": 5, "CL": 7, "AR": 4}
# Country calling code and digits in a national landline number.
_DIALING = {"ES": (34, 9), "MX": (52, 10), "CL": (56, 9), "AR": (54, 10)}
_E164 = phonenumbers.PhoneNumberFormat.E164


class _City(NamedTuple):
    country: str
    name: str
    province: str
    zone: str
    postal_prefix: str
    postal_low: int
    postal_high: int
    area: str
    latitude: float
    longitude: float


def _rows(table: str) -> list[list[str]]:
    """Split a pipe-separated table, one record a line."""
    return [line.split("|") for line in table.strip().splitlines()]


def _load_cities() -> tuple[_City, ...]:
    cities = []
    for country, name, province, zone, postal, area, lat, lon in _rows(_CITY_TABLE):
        prefix = postal[0] if postal[0].isalpha() else ""
        low, high = postal[len(prefix) :].split("-")
        cities.append(
            _City(
                country,
                name,
                province,
                zone,
                prefix,
                int(low),
                int(high),
                area,
                float(lat),
                float(lon),
            )
        )
    return tuple(cities)


_CITIES = _load_cities()

# ---------------------------------------------------------------- names


def _list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


class _Names(NamedTuple):
    female: tuple[str, ...]
    male: tuple[str, ...]
    surnames: tuple[str, ...]


_NAMES = {
    "ES": _Names(
        _list("""María, Carmen, Ana, Laura, Marta, Cristina, Pilar, Lucía, Elena,
            Isabel, Rosa, Paula, Sara, Irene, Raquel, Beatriz, Silvia, Rocío,
            Inmaculada, María José, María Ángeles, Ángela, Noelia, Sonia, Alicia"""),
        _list("""Antonio, José, Manuel, Francisco, David, Javier, Daniel, Carlos,
            Jesús, Alejandro, Miguel, Rafael, Pablo, Sergio, Fernando, Jorge,
            Alberto, Luis, Álvaro, Juan Carlos, José Antonio, Ángel, Rubén, Raúl,
            Enrique, Ignacio, Óscar, Víctor"""),
        _list("""García, Fernández, González, Rodríguez, López, Martínez, Sánchez,
            Pérez, Gómez, Martín, Jiménez, Ruiz, Hernández, Díaz, Moreno, Muñoz,
            Álvarez, Romero, Alonso, Gutiérrez, Navarro, Torres, Domínguez,
            Vázquez, Ramos, Gil, Serrano, Blanco, Molina, Morales, Suárez,
            Ortega, Delgado, Castro, Ortiz, Rubio, Marín, Sanz, Núñez, Iglesias,
            Medina, Garrido, Cortés, Castillo, Santos, Lozano, Guerrero, Cano,
            Prieto, Méndez, Calvo, Gallego, Vidal, León, Márquez, Herrera, Peña,
            Cabrera, Campos, Vega, Fuentes, Carrasco, Caballero, Nieto, Pascual,
            Herrero, Montero, Hidalgo, Ibáñez, Durán, Benítez, Pastor, Crespo,
            Velasco, Soriano, Bravo, Pardo, Esteban, Zamora, Muñiz, Peñalver"""),
    ),
    "MX": _Names(
        _list("""Guadalupe, María Fernanda, Ximena, Alejandra, Valeria, Gabriela,
            Verónica, Adriana, Itzel, Citlali, Daniela, Mariana, Karla, Leticia,
            Araceli, Yolanda, Rocío"""),
        _list("""José Luis, Juan Carlos, Jesús, Luis Ángel, Emiliano, Rodrigo,
            Ricardo, Arturo, Eduardo, Héctor, Jorge, Fernando, Alejandro,
            Miguel Ángel, Raúl, Óscar, Gerardo"""),
        _list("""Hernández, García, Martínez, López, González, Pérez, Rodríguez,
            Sánchez, Ramírez, Cruz, Flores, Gómez, Morales, Vázquez, Reyes,
            Jiménez, Torres, Díaz, Gutiérrez, Mendoza, Aguilar, Ortiz, Castillo,
            Méndez, Chávez, Rivera, Juárez, Domínguez, Medina, Vargas, Guzmán,
            Velázquez, Salazar, Treviño, Garza, Villarreal, Cárdenas, Zúñiga,
            Téllez, Ibarra, Cervantes, Sandoval, Orozco, Núñez, Peña, Muñoz"""),
    ),
    "CL": _Names(
        _list("""Catalina, Javiera, Constanza, Francisca, Camila, Valentina, Josefa,
            Fernanda, Daniela, Carolina, Macarena, Paulina, Marcela"""),
        _list("""Matías, Benjamín, Vicente, Joaquín, Cristóbal, Felipe, Sebastián,
            Ignacio, Rodrigo, Claudio, Patricio, Gonzalo, Mauricio"""),
        _list("""González, Muñoz, Rojas, Díaz, Pérez, Soto, Contreras, Silva,
            Martínez, Sepúlveda, Morales, Rodríguez, López, Fuentes, Araya,
            Espinoza, Valenzuela, Castillo, Tapia, Reyes, Pizarro, Vásquez,
            Carrasco, Cortés, Núñez, Jara, Vergara, Figueroa, Riquelme, Miranda,
            Bravo, Sandoval, Orellana, Alarcón, Saavedra, Henríquez, Cáceres"""),
    ),
    "AR": _Names(
        _list("""Agustina, Florencia, Milagros, Micaela, Lucía, Martina, Sofía,
            Romina, Luciana, Carolina, Valeria, Julieta, Graciela"""),
        _list("""Facundo, Nicolás, Gonzalo, Federico, Santiago, Ezequiel, Lautaro,
            Julián, Mariano, Hernán, Diego, Pablo, Leandro, Gustavo"""),
        _list("""González, Rodríguez, Gómez, Fernández, López, Díaz, Martínez,
            Pérez, García, Sánchez, Romero, Sosa, Álvarez, Torres, Ruiz, Acosta,
            Benítez, Medina, Suárez, Herrera, Aguirre, Pereyra, Giménez, Molina,
            Silva, Castro, Rojas, Ortiz, Núñez, Luna, Juárez, Cabrera, Ríos,
            Ferreyra, Godoy, Peralta, Carrizo, Quiroga, Ledesma, Ojeda, Ponce,
            Villalba, Cardozo, Coronel, Bianchi, Rossi, Ferrari, Romano"""),
    ),
}

# Regions with names of their own, mixed in with the national ones.
_REGIONAL_NAMES = {
    "País Vasco": _Names(
        _list("Ane, Maite, Itziar, Nerea, Amaia, Leire"),
        _list("Iñaki, Aitor, Unai, Mikel, Jon, Asier"),
        _list("""Etxeberria, Agirre, Zabala, Urrutia, Goikoetxea, Larrañaga,
            Arrieta, Elizondo, Iturbe, Mendizábal, Zubizarreta, Olano"""),
    ),
    "Cataluña": _Names(
        _list("Montserrat, Núria, Laia, Mireia, Meritxell, Anna"),
        _list("Jordi, Pau, Marc, Oriol, Xavier, Joan"),
        _list("Puig, Vila, Serra, Roca, Font, Pujol, Soler, Casals, Ferrer, Camps"),
    ),
    "Galicia": _Names(
        _list("Uxía, Antía, Iria, Sabela, Noa"),
        _list("Brais, Xoán, Iago, Anxo, Roi"),
        _list("Otero, Varela, Souto, Pazos, Rey, Seoane, Losada, Castro, Lema"),
    ),
    "Canarias": _Names(
        _list("Yaiza, Nayra, Guayarmina, Candelaria"),
        _list("Yeray, Airam, Acorán, Jonay"),
        _list("Santana, Déniz, Perdomo, Cabrera, Ojeda, Quintana, Rivero"),
    ),
}
_REGIONAL_NAMES["Navarra"] = _REGIONAL_NAMES["País Vasco"]
_REGIONAL_NAMES["Asturias"] = _REGIONAL_NAMES["Galicia"]

# ---------------------------------------------------------------- companies

_TRADES = _list("""Ferretería, Distribuciones, Suministros Industriales, Talleres,
    Transportes, Construcciones, Climatización, Instalaciones Eléctricas,
    Papelería, Limpiezas, Carpintería, Logística, Alimentación, Bodegas,
    Panificadora, Reformas, Imprenta, Maquinaria Agrícola, Fontanería,
    Materiales de Construcción, Recambios, Pinturas, Cristalería, Embalajes,
    Muebles, Asesoría, Informática""")
_LOCAL_TRADES = {
    "ES": (),
    "MX": _list("Abarrotes, Refaccionaria, Comercializadora, Distribuidora"),
    "CL": _list("Importadora, Comercial, Distribuidora, Ferretería Industrial"),
    "AR": _list("Metalúrgica, Importadora, Distribuidora, Corralón de Materiales"),
}
_PLACES = {
    "Madrid": _list("del Manzanares, de la Sierra, del Jarama, del Henares"),
    "Castilla y León": _list("del Duero, de la Meseta, del Pisuerga"),
    "Castilla-La Mancha": _list("del Tajo, de La Mancha"),
    "País Vasco": _list("del Nervión, del Cantábrico, de Urdaibai"),
    "Navarra": _list("del Ebro, de la Ribera, del Baztán"),
    "Galicia": _list("del Miño, del Atlántico, de las Rías"),
    "Asturias": _list("del Cantábrico, del Nalón"),
    "Cataluña": _list("del Llobregat, del Vallès, del Ter, del Mediterráneo"),
    "Aragón": _list("del Ebro, del Moncayo, del Pirineo"),
    "Andalucía": _list("del Guadalquivir, del Sur, de la Bahía, de la Vega"),
    "Comunitat Valenciana": _list("del Turia, de Levante, de la Marina"),
    "Región de Murcia": _list("del Segura, de la Huerta"),
    "Illes Balears": _list("de las Islas, del Mediterráneo"),
    "Canarias": _list("del Atlántico, de las Islas, de Canarias"),
    "CDMX": _list("del Valle de México, de la Capital, del Centro"),
    "Estado de México": _list("del Valle, del Estado"),
    "Jalisco": _list("de Occidente, de Los Altos, del Pacífico"),
    "Nuevo León": _list("del Norte, de la Sierra Madre, del Noreste"),
    "Puebla": _list("del Altiplano, de los Volcanes"),
    "Querétaro": _list("del Bajío, del Centro"),
    "Guanajuato": _list("del Bajío"),
    "Santiago": _list("del Maipo, de los Andes, del Mapocho"),
    "Valparaíso": _list("del Pacífico, del Puerto, de la Costa"),
    "Biobío": _list("del Biobío, del Sur"),
    "Buenos Aires": _list("del Plata, del Río, del Sur"),
    "Córdoba": _list("de las Sierras, del Centro"),
    "Santa Fe": _list("del Litoral, del Paraná"),
    "Mendoza": _list("de Cuyo, de los Andes"),
}
_BRANDS = _list("""Alborada, Atalaya, Vértice, Nexo, Aurora, Cumbre, Horizonte,
    Brisa, Roble, Encina, Faro, Sendero, Prisma, Cénit, Áncora, Olivo, Acacia,
    Tramontana, Solana, Albor, Galena, Mirador, Cierzo""")
_SECTORS = _list("""Logística, Soluciones Industriales, Servicios, Tecnología,
    Ingeniería, Alimentación, Energía""")
_COMPANY_PATTERNS = (
    "{trade} {surname}",
    "{trade} {surname}",
    "{trade} Hermanos {surname}",
    "{trade} {surname} e Hijos",
    "{trade} {place}",
    "{trade} {place}",
    "{trade} {surname} {and_} {other}",
    "Grupo {brand}",
    "{brand} {sector}",
)
# (suffix, weight, CIF letter): A is a sociedad anónima, B a limitada, F a
# cooperative; the letter only matters in Spain.
_LEGAL_FORMS = {
    "ES": (
        ("S.L.", 60, "B"),
        ("S.A.", 15, "A"),
        ("S.L.U.", 15, "B"),
        ("S. Coop.", 5, "F"),
        ("S.L.L.", 5, "B"),
    ),
    "MX": (
        ("S.A. de C.V.", 60, ""),
        ("S. de R.L. de C.V.", 25, ""),
        ("S.A.P.I. de C.V.", 10, ""),
        ("S.C.", 5, ""),
    ),
    "CL": (("SpA", 40, ""), ("Ltda.", 35, ""), ("S.A.", 25, "")),
    "AR": (("S.R.L.", 45, ""), ("S.A.", 40, ""), ("S.A.S.", 15, "")),
}
# segment: revenue range, head-count range.
_SIZES = {
    "small": (80_000, 2_000_000, 1, 49),
    "medium": (2_000_000, 50_000_000, 50, 249),
    "large": (50_000_000, 900_000_000, 250, 4_000),
}
_SEGMENT_WEIGHTS = {"small": 60, "medium": 30, "large": 10}
_STATUS_WEIGHTS = {"lead": 35, "prospect": 25, "customer": 40}
_PARTICLES = frozenset(_list("de, del, la, las, los, el, y, e"))
# RFC homoclave characters the SAT issues, first and second position.
_RFC_SERIAL = (
    "123456789ABCDEFGHIJKLMNPQRSTUV",
    "123456789ABCDEFGHIJKLMNPQRSTUVWXYZ",
)

_MAILBOXES = _list("info, administracion, pedidos, contacto, comercial")
_MAIL_HOSTS = _list("correo.example, buzon.example, mail.example")
_STREETS = {
    "ES": _list("""Calle Mayor, Calle Real, Avenida de la Constitución,
        Calle San Francisco, Calle del Comercio, Calle Nueva, Plaza de España,
        Avenida de Europa, Calle del Carmen, Calle Santa Ana,
        Paseo de la Estación, Calle de la Industria, Avenida de la Libertad"""),
    "MX": _list("""Av. Juárez, Calle Hidalgo, Calle Morelos, Av. Reforma,
        Calle 5 de Mayo, Av. Revolución, Calle Zaragoza, Av. Independencia,
        Calle Allende, Calle Guerrero, Av. Universidad"""),
    "CL": _list("""Av. Libertador Bernardo O'Higgins, Calle Prat, Calle Freire,
        Av. Los Carrera, Calle Serrano, Calle Colón, Av. Balmaceda, Calle Maipú,
        Av. Matta"""),
    "AR": _list("""Av. San Martín, Av. Rivadavia, Belgrano, Sarmiento, Av. Mitre,
        25 de Mayo, Moreno, Av. Colón, Urquiza, Lavalle"""),
}
_ESTATES = _list("Los Llanos, San José, La Estación, El Olivar, Las Arenas, El Pino")
_COLONIAS = _list("Centro, Industrial, Del Valle, Moderna, Obrera, Santa María")
_CLIENT_NOTES = _list("""Horario de descarga de 8:00 a 14:00.,
    Prefiere el contacto por correo electrónico.,
    Paga por transferencia a 30 días.,
    Llegó recomendado por otro cliente.,
    Indicar siempre el número de pedido en la factura.,
    Tiene almacén propio y no necesita entregas fraccionadas.""")

# ---------------------------------------------------------------- activities

_ACTIVITY_WEIGHTS = {"call": 35, "email": 30, "visit": 20, "note": 15}
# How many activities a client gets, by status: customers are the busiest.
_ACTIVITY_COUNTS = {"lead": (0, 3), "prospect": (1, 4), "customer": (2, 7)}
# Latin America asks for a "cotización" where Spain asks for a "presupuesto".
_QUOTE_WORD = {"ES": "presupuesto", "MX": "cotización", "CL": "cotización", "AR": "presupuesto"}
_SUBJECTS = {
    "call": _list("""Llamada de seguimiento, Confirmar fecha de entrega,
        Consulta sobre la nueva tarifa, Reclamación por retraso en el envío,
        Recordatorio de factura pendiente, Concertar visita,
        Llamada de presentación, Incidencia con un pedido,
        Consulta de disponibilidad de stock, Renovación del contrato anual"""),
    "visit": _list("""Visita comercial, Presentación de novedades del catálogo,
        Demostración de producto en sus instalaciones,
        Reunión con el departamento de compras, Revisión anual de condiciones,
        Visita a la nueva nave, Formación sobre el uso del producto"""),
    "email": _list("""Envío de {quote}, Envío de tarifa actualizada,
        Respuesta a solicitud de muestras, Confirmación de pedido,
        Documentación técnica solicitada, Propuesta de acuerdo marco,
        Solicitud de {quote} para reposición, Envío de certificado de calidad"""),
    "note": _list("""Cambio de interlocutor en compras,
        Interesado en ampliar la gama, Pide pago a 60 días,
        La competencia ofrece mejor precio, Satisfecho con el último pedido,
        Pendiente de aprobación presupuestaria,
        Posible pedido grande el próximo trimestre"""),
}
_ACTIVITY_NOTES = _list("""Quedamos en volver a hablar la semana que viene.,
    Enviarán el pedido firmado cuando lo apruebe gerencia.,
    Piden muestras de la gama profesional.,
    Sin novedades; mantener el contacto.,
    Preguntan por descuentos por volumen.,
    Tienen problemas con su transportista actual.,
    Acordado un pedido de prueba.""")
_POSITIONS = _list("""Gerente, Responsable de compras, Administración, Contabilidad,
    Responsable de almacén, Responsable de calidad, Recepción,
    Responsable de mantenimiento""")

# ---------------------------------------------------------------- building


class _Member(NamedTuple):
    role: str
    email: str
    user_id: int
    time_zone: str
    weight: float
    cities: tuple[_City, ...]


class _Plan(NamedTuple):
    """A client row before insertion, with what its children need."""

    row: dict[str, object]
    owner: _Member
    city: _City
    domain: str  # the company's web domain; empty for people
    status: str
    created: datetime


def build_demo(
    *,
    seed: int = 2026,
    clients: int = 3000,
    password: str = "demo-cartera-2026",
    today: date | None = None,
    plugins: pluggy.PluginManager | None = None,
) -> DemoAccounts:
    """Fill an empty database with demo data and say whom to log in as.

    `today` anchors every timestamp (UTC midnight); pass it to make two runs on
    different days identical too. Each of `plugins` then adds its own rows
    (`populate_demo`). Raises `DemoDatabaseNotEmpty` when any of the
    tables already holds rows, and `ValueError` for a password the login would
    refuse to set.
    """
    if len(password) < MIN_LENGTH:
        raise ValueError(f"the demo password needs {MIN_LENGTH} characters or more")
    started = perf_counter()
    now = datetime.combine(today or utcnow().date(), time())

    with db.atomic():
        _ensure_empty()
        # Argon2 is slow on purpose: hash once and let every user share it.
        password_hash = hash_password(password)
        staff = _create_staff(_create_profiles(), password_hash, now)
        owners = [member for member in staff if member.weight]
        _Factory(random.Random(seed), now).fill(owners, clients)
        _create_tags(random.Random(seed + 1))
        _create_zones()
        catalogue.changed()
        _create_consents(random.Random(seed + 3), now)
        _create_web_form(staff, seed, now)
        # A generator of their own, so the rows above stay as they were.
        create_opportunities(random.Random(seed + 2), now)
        create_tasks(random.Random(seed + 4), now)
        if plugins is not None:
            plugins.hook.populate_demo(seed=seed, today=now.date())

    logger.info(
        "demo data built from seed %d: %d users, %d clients in %.1f s",
        seed,
        len(staff),
        clients,
        perf_counter() - started,
    )
    first: dict[str, str] = {}
    for member in staff:
        first.setdefault(member.role, member.email)
    return DemoAccounts(
        admin=first["admin"],
        director=first["director"],
        manager=first["manager"],
        sales_head=first["head"],
        salesperson=first["sales"],
        back_office=first["back_office"],
        technician=first["technician"],
        password=password,
    )


def _ensure_empty() -> None:
    for model in (Profile, User, Client, Contact, Activity, Opportunity):
        if model.select().exists():
            table = model._meta.table_name
            raise DemoDatabaseNotEmpty(
                f"demo data goes only into an empty database; {table!r} has rows"
            )


def _create_profiles() -> dict[str, int]:
    ids: dict[str, int] = {}
    for name, kind, parent, assistant in _rows(_PROFILES):
        profile = Profile(
            name=name,
            kind=kind,
            parent=ids.get(parent),
            is_assistant=assistant == "assistant",
        )
        grants = next(g for prefix, g in _GRANTS.items() if name.startswith(prefix))
        write_grants(profile, grants)
        profile.save()
        ids[name] = profile.id
    return ids


def _create_tags(rng: random.Random) -> None:
    """A few tags on about one client in twelve each, and who may use them."""
    client_ids = [key for (key,) in Client.select(Client.id).order_by(Client.id).tuples()]
    profiles = list(Profile.select())
    for name, colour, holders in _rows(_TAGS):
        tag = Tag.create(name=name, colour=colour)
        chosen = rng.sample(client_ids, k=len(client_ids) // 12)
        _insert(ClientTag, [{"client": client, "tag": tag.id} for client in chosen])
        for profile in profiles:
            if profile.name.startswith(tuple(holders.split(";"))):
                held = read_grants(profile)
                held[TAG_KEY.format(tag.id)] = ""
                write_grants(profile, held)
    for profile in profiles:
        profile.save()


def _create_zones() -> None:
    """The demo's zones, placing new clients by the start of their postal code.

    Spanish and Mexican codes start with their province's or state's two digits,
    Chilean ones with their region's, and Argentine ones with the province letter.
    """
    prefixes: dict[str, dict[str, None]] = {}
    countries: dict[str, dict[str, None]] = {}
    for city in _CITIES:
        countries.setdefault(city.zone, {})[city.country] = None
        width = 7 if city.country == "CL" else 5
        prefix = city.postal_prefix or f"{city.postal_low:0{width}d}"[:2]
        prefixes.setdefault(city.zone, {})[prefix] = None
    for position, (name, held) in enumerate(countries.items()):
        Zone.create(
            name=name,
            postal_prefixes=" ".join(prefixes.get(name, {})),
            countries=" ".join(held),
            position=position,
        )


_CONSENT_TEXT = (
    "Acepto que Cartera Demo S.L. me envíe por correo electrónico información comercial "
    "sobre sus productos. Puedo retirar este consentimiento en cualquier momento."
)


_CONSENT_TEXT_EN = (
    "I agree that Cartera Demo S.L. may send me commercial information about its "
    "products by email. I may withdraw this consent at any time."
)


def _create_consents(rng: random.Random, now: datetime) -> None:
    """About a third of the contacts gave consent on the web form, one in ten later withdrew."""
    records, given, withdrawn = [], [], []
    rows = Contact.select(Contact.id, Contact.client, Contact.email, Contact.created_at)
    for contact_id, client_id, email, created in rows.order_by(Contact.id).tuples():
        if rng.random() >= 0.35:
            continue
        at = created + timedelta(minutes=rng.randint(1, 60))
        records.append(
            {"client": client_id, "contact": contact_id, "email": email, "state": "given",
             "method": "form", "text_shown": _CONSENT_TEXT, "evidence": "Formulario web", "at": at}
        )  # fmt: skip
        if rng.random() < 0.1 and at < now - timedelta(days=30):
            later = at + timedelta(days=rng.randint(1, (now - at).days - 1))
            records.append(
                {"client": client_id, "contact": contact_id, "email": email,
                 "state": "withdrawn", "method": "email", "evidence": "Respuesta a un boletín",
                 "at": later}
            )  # fmt: skip
            withdrawn.append((contact_id, later))
        else:
            given.append((contact_id, at))
    _insert(ConsentRecord, records)
    for state, changes in (("given", given), ("withdrawn", withdrawn)):
        for contact_id, at in changes:
            Contact.update(marketing_consent=state, consent_at=at).where(
                Contact.id == contact_id
            ).execute()


# What the demo's web form asks, with the default labels of portal/core/webforms.py.
_FORM_FIELDS = ("name", "company", "email", "phone", "postal_code", "country", "message")


def _create_web_form(staff: list[_Member], seed: int, now: datetime) -> None:
    """One active web form; each zone's leads go in turns to the salespeople working it."""
    director = next(member for member in staff if member.role == "director")
    fields = [
        {"name": spec.name, "required": spec.name in webforms.ALWAYS,
         "label_es": spec.label_es, "label_en": spec.label_en}
        for spec in webforms.FIELDS
        if spec.name in _FORM_FIELDS
    ]  # fmt: skip
    # Derived from the seed, so two demos built alike are alike to the last byte.
    key = hashlib.sha256(f"demo-web-form-{seed}".encode()).hexdigest()[:22]
    WebForm.create(
        name="Solicita información",
        key=key,
        fields=json.dumps(fields, ensure_ascii=False),
        consent_es=_CONSENT_TEXT,
        consent_en=_CONSENT_TEXT_EN,
        thanks_es="Gracias. Un comercial de tu zona te llamará en unas horas.",
        thanks_en="Thank you. A salesperson from your area will call you within hours.",
        due_hours=4,
        fallback_owner=director.user_id,
        created_at=now,
        updated_at=now,
    )
    for position, zone in enumerate(Zone.select().order_by(Zone.position, Zone.name), 1):
        people = [
            member.user_id
            for member in staff
            if member.role == "sales" and any(city.zone == zone.name for city in member.cities)
        ]
        if people:
            rule = AssignmentRule.create(position=position * 10, name=zone.name, zone=zone.name)
            _insert(AssignmentRuleUser, [{"rule": rule.id, "user": user} for user in people])


def _create_staff(profiles: dict[str, int], password_hash: str, now: datetime) -> list[_Member]:
    staff = []
    for index, (role, name, profile, language, zone_name, zones) in enumerate(_rows(_STAFF)):
        given, surname = _slug(name, " ").split()[:2]
        email = f"{given}.{surname}@{DOMAIN}"
        user = User.create(
            email=email,
            name=name,
            password_hash=password_hash,
            profile=profiles[profile],
            language=language,
            time_zone=zone_name,
            is_admin=role == "admin",
            created_at=now - timedelta(days=1200 - 9 * index),
        )
        cities = tuple(city for city in _CITIES if city.zone in zones.split(";"))
        weight = _OWNER_WEIGHTS.get(role, 0.0)
        staff.append(_Member(role, email, user.id, zone_name, weight, cities))
    return staff


def _insert(model: type[pw.Model], rows: list[dict[str, object]]) -> None:
    for batch in pw.chunked(rows, _BATCH):
        model.insert_many(batch).execute()


def _slug(text: str, separator: str) -> str:
    """ASCII words of `text` joined by `separator`, for emails and domains."""
    cleaned = "".join(ch if ch.isalnum() else " " for ch in fold(text))
    return separator.join(cleaned.split())


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(tuple(weights), weights=tuple(weights.values()))[0]


def _initials(name: str) -> str:
    """Three letters from a company name, the way an RFC starts."""
    words = [w for w in _slug(name, " ").split() if w not in _PARTICLES]
    letters = "".join(word[0] for word in words)
    return (letters + words[-1][1:] + "XXX")[:3].upper()


def _person_letters(given: str, surnames: list[str]) -> str:
    """Four letters from a person's names, the way a personal RFC starts."""
    first, *rest = (_slug(surname, "").upper() for surname in surnames)
    vowel = next((ch for ch in first[1:] if ch in "AEIOU"), "X")
    second = rest[0][0] if rest else "X"
    return first[0] + vowel + second + _slug(given, "")[0].upper()


def _rut(number: int) -> str:
    body = str(number)
    return rut.format(body + rut.calc_check_digit(body))


def _cuit(body: str) -> str:
    return cuit.format(body + cuit.calc_check_digit(body))


class _Factory:
    """Draws every value from one seeded generator, always in the same order."""

    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now

    def fill(self, owners: list[_Member], count: int) -> None:
        rng = self.rng
        chosen = rng.choices(owners, weights=[m.weight for m in owners], k=count)
        # Key accounts everybody sees: a few even in a small demo.
        shared = set(rng.sample(range(count), k=min(count, max(3, count // 400))))
        plans = [self._client(owner, i in shared) for i, owner in enumerate(chosen)]
        _insert(Client, [plan.row for plan in plans])

        # The table started empty, so ascending ids follow insertion order.
        ids = Client.select(Client.id).order_by(Client.id).tuples()
        contacts: list[dict[str, object]] = []
        activities: list[dict[str, object]] = []
        for (client_id,), plan in zip(ids, plans, strict=True):
            contacts += self._contacts(client_id, plan)
            activities += self._activities(client_id, plan)
        _insert(Contact, contacts)
        _insert(Activity, activities)

    # -- clients

    def _client(self, owner: _Member, key_account: bool) -> _Plan:
        rng = self.rng
        city = rng.choice(owner.cities)
        is_company = key_account or rng.random() < 0.7
        if is_company:
            values, domain = self._company(city, key_account)
        else:
            values, domain = self._person(city), ""
        status = "customer" if key_account else _pick(rng, _STATUS_WEIGHTS)
        ago = timedelta(days=rng.randint(20, 1100), minutes=rng.randint(0, 1439))
        created = (self.now - ago).replace(microsecond=0)
        updated = created + (self.now - created) * rng.random()
        values.update(
            status=status,
            owner=owner.user_id,
            address=self._address(city, is_company),
            city=city.name,
            postal_code=self._postal_code(city),
            province=city.province,
            zone=city.zone,
            country=city.country,
            latitude=self._near(city.latitude),
            longitude=self._near(city.longitude),
            visible_to_all=key_account,
            notes=rng.choice(_CLIENT_NOTES) if rng.random() < 0.15 else "",
            created_at=created,
            updated_at=updated.replace(microsecond=0),
        )
        client = Client(**values)
        client.reindex()
        return _Plan(client.__data__, owner, city, domain, status, created)

    def _company(self, city: _City, key_account: bool) -> tuple[dict[str, object], str]:
        rng = self.rng
        base = self._company_name(city)
        forms = _LEGAL_FORMS[city.country]
        suffix, _, letter = rng.choices(forms, weights=[f[1] for f in forms])[0]
        segment = "large" if key_account else _pick(rng, _SEGMENT_WEIGHTS)
        low, high, fewest, most = _SIZES[segment]
        founded = date(1975, 1, 1) + timedelta(days=rng.randrange(17_000))
        domain = f"{_slug(base, '-')}.example"
        values: dict[str, object] = dict(
            name=f"{base} {suffix}",
            kind="company",
            segment=segment,
            annual_revenue=Decimal(rng.randint(low // 100, high // 100) * 100),
            employees=rng.randint(fewest, most),
            registered_on=founded,
            is_supplier=rng.random() < 0.03,
            email=f"{rng.choice(_MAILBOXES)}@{domain}",
            website=f"https://www.{domain}" if rng.random() < 0.45 else "",
            phone=self._phone(city, mobile=False),
            mobile=self._phone(city, mobile=True) if rng.random() < 0.3 else "",
        )
        values["fiscal_id_type"], values["fiscal_id"] = self._company_tax_id(
            city, letter, _initials(base), founded
        )
        return values, domain

    def _company_name(self, city: _City) -> str:
        rng = self.rng
        other = self._surname(city)
        return rng.choice(_COMPANY_PATTERNS).format(
            trade=rng.choice(_TRADES + _LOCAL_TRADES[city.country]),
            surname=self._surname(city),
            other=other,
            # "y" turns into "e" before an i sound: "Pérez e Iglesias".
            and_="e" if fold(other).startswith(("i", "hi")) else "y",
            place=rng.choice(_PLACES[city.zone]),
            brand=rng.choice(_BRANDS),
            sector=rng.choice(_SECTORS),
        )

    def _person(self, city: _City) -> dict[str, object]:
        rng = self.rng
        given, surnames, female = self._person_name(city)
        email = self._personal_email(given, surnames[0])
        values: dict[str, object] = dict(
            name=" ".join((given, *surnames)),
            kind="person",
            segment="small",
            # insert_many takes its columns from the first row: keep them all.
            annual_revenue=None,
            employees=None,
            registered_on=None,
            email=email if rng.random() < 0.75 else "",
            mobile=self._phone(city, mobile=True),
            phone=self._phone(city, mobile=False) if rng.random() < 0.25 else "",
        )
        values["fiscal_id_type"], values["fiscal_id"] = self._person_tax_id(
            city, given, surnames, female
        )
        return values

    def _company_tax_id(
        self, city: _City, letter: str, initials: str, founded: date
    ) -> tuple[str, str]:
        """(fiscal_id_type, fiscal_id) for a company in `city`."""
        rng = self.rng
        if city.country == "ES":
            # The digits after the letter start with the province code.
            province = city.postal_low // 1000
            body = f"{letter}{province:02d}{rng.randrange(10**5):05d}"
            return "cif", body + cif.calc_check_digits(body)[0]
        if city.country == "MX":
            return "foreign", self._rfc(initials, founded)
        if city.country == "CL":
            return "foreign", _rut(rng.randint(76_000_000, 77_999_999))
        prefix = rng.choice(("30", "30", "33"))
        return "foreign", _cuit(f"{prefix}{rng.randrange(10**8):08d}")

    def _person_tax_id(
        self, city: _City, given: str, surnames: list[str], female: bool
    ) -> tuple[str, str]:
        """(fiscal_id_type, fiscal_id) for a person living in `city`."""
        rng = self.rng
        if city.country == "ES" and rng.random() < 0.08:
            body = f"{rng.choice('XY')}{rng.randrange(10**7):07d}"
            return "nie", body + nie.calc_check_digit(body)
        if city.country == "ES":
            body = str(rng.randint(10_000_000, 79_999_999))
            return "nif", body + dni.calc_check_digit(body)
        if city.country == "MX":
            born = date(1955, 1, 1) + timedelta(days=rng.randrange(16_000))
            return "foreign", self._rfc(_person_letters(given, surnames), born)
        if city.country == "CL":
            return "foreign", _rut(rng.randint(6_000_000, 24_999_999))
        # An Argentine's CUIT wraps their DNI; 20 and 27 are the usual prefixes.
        prefix = "27" if female else "20"
        return "foreign", _cuit(f"{prefix}{rng.randint(20_000_000, 45_999_999)}")

    def _rfc(self, letters: str, day: date) -> str:
        serial = "".join(self.rng.choice(chars) for chars in _RFC_SERIAL)
        number = f"{letters}{day:%y%m%d}{serial}"
        number += rfc.calc_check_digit(number)
        if rfc.is_valid(number, validate_check_digits=True) or letters[-1] == "X":
            return number
        # The SAT swaps the last letter for X when the four spell a rude word.
        return self._rfc(letters[:-1] + "X", day)

    # -- people and places

    def _names(self, city: _City) -> _Names:
        regional = _REGIONAL_NAMES.get(city.zone)
        if regional and self.rng.random() < 0.4:
            return regional
        return _NAMES[city.country]

    def _surname(self, city: _City) -> str:
        return self.rng.choice(self._names(city).surnames)

    def _person_name(self, city: _City) -> tuple[str, list[str], bool]:
        female = self.rng.random() < 0.5
        names = self._names(city)
        given = self.rng.choice(names.female if female else names.male)
        # Argentines go by one surname; the others by two.
        count = 1 if city.country == "AR" else 2
        return given, [self._surname(city) for _ in range(count)], female

    def _personal_email(self, given: str, surname: str) -> str:
        number = str(self.rng.randint(1, 99)) if self.rng.random() < 0.5 else ""
        host = self.rng.choice(_MAIL_HOSTS)
        return f"{_slug(given, '')}.{_slug(surname, '')}{number}@{host}"

    def _phone(self, city: _City, mobile: bool) -> str:
        """A random number libphonenumber accepts, in E.164."""
        code, length = _DIALING[city.country]
        prefix = city.area
        if mobile and city.country == "ES":
            prefix = "6"
        elif mobile and city.country == "CL":
            prefix = "9"
        elif mobile and city.country == "AR":
            # Argentine mobiles put a 9 before the whole landline-style number.
            prefix, length = "9" + prefix, length + 1
        free = length - len(prefix) - 1
        for _ in range(100):
            # Subscriber numbers never start with 0 or 1.
            lead = self.rng.randint(2, 9)
            digits = f"{prefix}{lead}{self.rng.randrange(10**free):0{free}d}"
            number = phonenumbers.PhoneNumber(country_code=code, national_number=int(digits))
            if phonenumbers.is_valid_number(number):
                return phonenumbers.format_number(number, _E164)
        raise RuntimeError(f"no valid phone number drawn for {city.name}")

    def _postal_code(self, city: _City) -> str:
        number = self.rng.randint(city.postal_low, city.postal_high)
        code = f"{city.postal_prefix}{number:0{_POSTAL_WIDTH[city.country]}d}"
        if city.country == "AR":
            code += "".join(self.rng.choices(string.ascii_uppercase, k=3))
        return code

    def _address(self, city: _City, company: bool) -> str:
        rng = self.rng
        street = rng.choice(_STREETS[city.country])
        number = rng.randint(1, 250)
        if city.country == "ES" and company and rng.random() < 0.35:
            estate = rng.choice(_ESTATES)
            return f"Polígono Industrial {estate}, nave {rng.randint(1, 60)}"
        if city.country == "ES":
            flat = "" if company else f", {rng.randint(1, 8)}.º {rng.choice('ABCD')}"
            return f"{street}, {number}{flat}"
        if city.country == "MX":
            return f"{street} {number}, Col. {rng.choice(_COLONIAS)}"
        # Chilean and Argentine streets number by metres, so numbers run high.
        extra = f", piso {rng.randint(1, 12)}" if rng.random() < 0.4 else ""
        return f"{street} {number * 10}{extra}"

    def _near(self, degrees: float) -> Decimal:
        """A coordinate a few kilometres around `degrees`."""
        return Decimal(f"{degrees + self.rng.uniform(-0.04, 0.04):.6f}")

    # -- contacts and activities

    def _contacts(self, client_id: int, plan: _Plan) -> list[dict[str, object]]:
        rng = self.rng
        if not plan.domain or rng.random() >= 0.7:
            return []
        rows = []
        for position in rng.sample(_POSITIONS, rng.randint(2, 4)):
            given, surnames, _ = self._person_name(plan.city)
            local = f"{_slug(given, '')}.{_slug(surnames[0], '')}"
            created = plan.created + timedelta(minutes=rng.randint(5, 9000))
            rows.append(
                {
                    "client": client_id,
                    "name": " ".join((given, *surnames)),
                    "position": position,
                    "email": f"{local}@{plan.domain}",
                    "phone": self._phone(plan.city, mobile=rng.random() < 0.7),
                    "notes": "",
                    "created_at": created,
                    "updated_at": created,
                }
            )
        return rows

    def _activities(self, client_id: int, plan: _Plan) -> list[dict[str, object]]:
        rng = self.rng
        # The last 18 months, ending four days ago so that a weekend pushed to
        # Monday and a late hour west of UTC still land before `now`.
        start = max(plan.created, self.now - timedelta(days=548)).date()
        span = (self.now - timedelta(days=4)).date() - start
        zone = ZoneInfo(plan.owner.time_zone)
        quote = _QUOTE_WORD[plan.city.country]
        rows = []
        for _ in range(rng.randint(*_ACTIVITY_COUNTS[plan.status])):
            kind = _pick(rng, _ACTIVITY_WEIGHTS)
            day = start + timedelta(days=rng.randint(1, span.days))
            if day.weekday() >= 5:
                day += timedelta(days=7 - day.weekday())
            local = datetime.combine(
                day, time(rng.randint(8, 18), rng.choice((0, 15, 30, 45))), zone
            )
            happened = local.astimezone(UTC).replace(tzinfo=None)
            rows.append(
                {
                    "client": client_id,
                    "author": plan.owner.user_id,
                    "kind": kind,
                    "happened_at": happened,
                    "subject": rng.choice(_SUBJECTS[kind]).format(quote=quote),
                    "notes": rng.choice(_ACTIVITY_NOTES) if rng.random() < 0.3 else "",
                    "created_at": happened + timedelta(minutes=rng.randint(1, 180)),
                }
            )
        return rows
