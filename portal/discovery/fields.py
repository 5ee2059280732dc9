"""The canonical asset fields (DESIGN §6) and how a raw cell becomes a value of one.

Units of size follow the convention of the tools inventories come from (vCenter, RVTools,
ServiceNow, the clouds' sizing): every size unit is binary, so KB and KiB, MB and MiB, GB
and GiB are the same (powers of 1024); B is a byte.  `memory_gb` and `storage_gb` hold
gigabytes in that sense, computed with `Decimal`: 16384 MB and 16384 MiB are both 16 GB,
which is what a consultant reading "16 GB RAM" expects.  A unit written in the cell ("16 GB",
"16384MB") wins over the unit of the column.  A cell with no unit and a column with no
unit is taken to be in GB already.

Utilisation is a percentage 0..100: the column unit "percent" (or none) reads "45" and
"45%" as 45; the unit "fraction" reads "0.45" as 45 (a cell with its own "%" is a
percentage whatever the column says).

Blank cells and the usual null markers ("-", "n/a", "null", "none") are no value and no
error: whether a row may lack a field is the validator's business, and only `name` is
required (see `derive_name`).
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

# ---------------------------------------------------------------------------------------
# The fields


@dataclass(frozen=True)
class Field:
    """One canonical asset field."""
    name: str
    label: str
    kind: str                    # text, enum, integer, number, percent, ip, mac, list
    unit_kind: str | None = None  # None, "memory", "storage" (both GB) or "percent"
    required: bool = False


FIELDS: tuple[Field, ...] = (
    Field("name", "Name", "text", required=True),
    Field("hostname", "Hostname", "text"),
    Field("fqdn", "FQDN", "text"),
    Field("ip_address", "IP address", "ip"),
    Field("mac_address", "MAC address", "mac"),
    Field("asset_type", "Asset type", "enum"),
    Field("environment", "Environment", "enum"),
    Field("os_name", "OS name", "text"),
    Field("os_version", "OS version", "text"),
    Field("cpu_cores", "CPU cores", "integer"),
    Field("memory_gb", "Memory (GB)", "number", "memory"),
    Field("storage_gb", "Storage (GB)", "number", "storage"),
    Field("cpu_utilization_pct", "CPU utilisation (%)", "percent", "percent"),
    Field("memory_utilization_pct", "Memory utilisation (%)", "percent", "percent"),
    Field("application", "Application", "text"),
    Field("owner", "Owner", "text"),
    Field("business_criticality", "Business criticality", "enum"),
    Field("location", "Location", "text"),
    Field("depends_on", "Depends on", "list"),
    Field("external_id", "External ID", "text"),
    Field("tags", "Tags", "list"),
    Field("description", "Description", "text"),
    Field("manufacturer", "Manufacturer", "text"),
    Field("model", "Model", "text"),
    Field("serial_number", "Serial number", "text"),
    Field("hypervisor", "Hypervisor", "text"),
    Field("power_state", "Power state", "enum"),
)
FIELDS_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
FIELD_NAMES: tuple[str, ...] = tuple(FIELDS_BY_NAME)

# ---------------------------------------------------------------------------------------
# Units

BYTES_PER_UNIT: dict[str, int] = {
    "B": 1,
    "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "PB": 1024**5,
    "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4, "PiB": 1024**5,
}
BINARY_UNITS = frozenset(u for u in BYTES_PER_UNIT if "i" in u)
PERCENT_UNITS = ("percent", "fraction")
UNIT_CHOICES: tuple[str, ...] = (
    "B", "KB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB", "percent", "fraction")

_UNIT_SPELLINGS = {u.lower(): u for u in BYTES_PER_UNIT} | {"byte": "B", "bytes": "B"}
_BYTES_PER_GB = Decimal(1024**3)


def canonical_unit(text: str | None) -> str | None:
    """The canonical spelling of a size or percent unit ("mib" -> "MiB", "%" -> "percent"),
    or None when `text` is not one."""
    if not text:
        return None
    key = text.strip().lower()
    if key in ("%", "percent", "pct", "percentage"):
        return "percent"
    if key == "fraction":
        return "fraction"
    return _UNIT_SPELLINGS.get(key)


# A number, optionally with thousands separators, followed by an optional unit word or %.
_QUANTITY = re.compile(
    r"^\s*([-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+)\s*([A-Za-z]+|%)?\s*$")


def split_quantity(raw: str) -> tuple[Decimal, str | None] | None:
    """`"16,384 MB"` -> `(Decimal("16384"), "MB")`; the unit is returned as written.
    None when the text is not a number with an optional unit."""
    match = _QUANTITY.match(raw)
    if match is None:
        return None
    try:
        return Decimal(match.group(1).replace(",", "")), match.group(2)
    except InvalidOperation:  # pragma: no cover - the pattern only admits numbers
        return None


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


# ---------------------------------------------------------------------------------------
# Coercion: raw cell -> (value, error)

Result = tuple[Any, str | None]
NULL_MARKERS = frozenset({"", "-", "--", "n/a", "na", "null", "none", "(null)", "#n/a"})
_LIST_SEPARATORS = re.compile(r"[,;|\r\n]+")
_ADDRESS_SEPARATORS = re.compile(r"[,;\s]+")
_MAC_SEPARATORS = re.compile(r"[:\-.\s]")
_HEX12 = re.compile(r"^[0-9a-f]{12}$")
_MAC_PAIRS = re.compile(r"^[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}$", re.IGNORECASE)
_IPV4 = re.compile(r"^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
                   r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$")
_WHITESPACE = re.compile(r"\s+")


def _text(raw: str, unit: str | None) -> Result:
    return raw, None


def _enum(raw: str, unit: str | None) -> Result:
    return _WHITESPACE.sub(" ", raw), None


def _integer(raw: str, unit: str | None) -> Result:
    if raw.isascii() and raw.isdigit():  # the common case
        return int(raw), None
    quantity = split_quantity(raw)
    if quantity is None or quantity[1] is not None:
        return None, "not a number"
    value = quantity[0]
    if value != value.to_integral_value():
        return None, "not a whole number"
    if value < 0:
        return None, "negative value"
    return int(value), None


def _size_in_gb(raw: str, unit: str | None) -> Result:
    quantity = split_quantity(raw)
    if quantity is None:
        return None, "not a number"
    value, written = quantity
    spelled = written or unit or "GB"
    canonical = canonical_unit(spelled)
    if canonical not in BYTES_PER_UNIT:
        return None, f"unknown unit '{spelled}'"
    if value < 0:
        return None, "negative value"
    return _number(value * BYTES_PER_UNIT[canonical] / _BYTES_PER_GB), None


def _percent(raw: str, unit: str | None) -> Result:
    quantity = split_quantity(raw)
    if quantity is None:
        return None, "not a number"
    value, written = quantity
    if written is not None and written != "%":
        return None, f"unknown unit '{written}'"
    if unit not in (None, *PERCENT_UNITS):
        return None, f"unknown unit '{unit}'"
    if written is None and unit == "fraction":
        value *= 100
    if value < 0:
        return None, "percentage below 0"
    if value > 100:
        return None, "percentage above 100"
    return _number(value), None


def _ip(raw: str, unit: str | None) -> Result:
    # Several addresses in one cell: the first valid one is the asset's address.
    for token in _ADDRESS_SEPARATORS.split(raw):
        address = parse_ip(token)
        if address is not None:
            return address, None
    return None, "not an IPv4 or IPv6 address"


def parse_ip(token: str) -> str | None:
    """The normalised address in `token` ("10.0.0.5/24" -> "10.0.0.5"), or None."""
    token = token.strip().strip("[]")
    if _IPV4.match(token):  # the common case, several times faster than ipaddress
        return token
    try:
        return str(ipaddress.ip_address(token))
    except ValueError:
        pass
    if "/" not in token:
        return None
    try:
        return str(ipaddress.ip_interface(token).ip)
    except ValueError:
        return None


def _mac(raw: str, unit: str | None) -> Result:
    for token in _ADDRESS_SEPARATORS.split(raw):
        mac = parse_mac(token)
        if mac is not None:
            return mac, None
    return None, "not a MAC address"


def parse_mac(token: str) -> str | None:
    """`"00-50-56-AB-CD-EF"`, `"0050.56ab.cdef"` or `"005056abcdef"` -> `"00:50:56:ab:cd:ef"`."""
    if _MAC_PAIRS.match(token):  # the common case, without re-joining the digits
        return token.lower().replace("-", ":")
    digits = _MAC_SEPARATORS.sub("", token.strip().lower())
    if not _HEX12.match(digits):
        return None
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def _list(raw: str, unit: str | None) -> Result:
    items = [item.strip() for item in _LIST_SEPARATORS.split(raw)]
    unique = list(dict.fromkeys(item for item in items if item.casefold() not in NULL_MARKERS))
    return (unique or None), None


_COERCERS: dict[str, Callable[[str, str | None], Result]] = {
    "text": _text, "enum": _enum, "integer": _integer, "number": _size_in_gb,
    "percent": _percent, "ip": _ip, "mac": _mac, "list": _list,
}


def coerce(field: Field | str, raw: str | None, unit: str | None = None) -> Result:
    """The canonical value of one cell and None, or None and a short reason
    ("not a number", "unknown unit 'XB'", "percentage above 100", ...).

    `unit` is the column's unit from the mapping (a size unit for memory/storage,
    "percent" or "fraction" for utilisation, otherwise ignored).  Blank cells and null
    markers give (None, None).  Memory and storage come back in GB, utilisation in
    percent, cores as an int, lists as a list of distinct strings, IP and MAC addresses
    normalised (only the first valid one when a cell holds several).
    """
    if raw is None:
        return None, None
    text = (raw if isinstance(raw, str) else str(raw)).strip()
    if text.casefold() in NULL_MARKERS:
        return None, None
    kind = (field if isinstance(field, Field) else FIELDS_BY_NAME[field]).kind
    return _COERCERS[kind](text, unit)


# ---------------------------------------------------------------------------------------
# Names


def normalise_name(value: str) -> str:
    """The key that identifies an asset by name: whitespace and case variants of the same
    name are not different assets ("  Web  01 " and "web 01" are one)."""
    return _WHITESPACE.sub(" ", value.strip()).casefold()


def derive_name(values: Mapping[str, Any]) -> str | None:
    """The asset's name from its coerced values: `name` when present, else `hostname`,
    else the first label of `fqdn` ("web01.corp.example.com" -> "web01"), else None
    (the row then lacks its one required field)."""
    for field in ("name", "hostname"):
        value = values.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()
    fqdn = values.get("fqdn")
    if isinstance(fqdn, str) and fqdn.strip(". "):
        fqdn = fqdn.strip(". ")
        return fqdn if parse_ip(fqdn) else fqdn.split(".", 1)[0]
    return None
