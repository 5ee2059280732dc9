"""The canonical asset fields and the coercion of raw cells into their values."""
import pytest

from portal.discovery.fields import (
    FIELD_NAMES, FIELDS, FIELDS_BY_NAME, UNIT_CHOICES, coerce, derive_name, normalise_name)

DESIGN_SECTION_6 = (
    "name, hostname, fqdn, ip_address, mac_address, asset_type, environment, os_name, "
    "os_version, cpu_cores, memory_gb, storage_gb, cpu_utilization_pct, "
    "memory_utilization_pct, application, owner, business_criticality, location, depends_on, "
    "external_id, tags, description, manufacturer, model, serial_number, hypervisor, "
    "power_state")


def test_the_27_fields_of_the_design_in_order():
    assert FIELD_NAMES == tuple(DESIGN_SECTION_6.split(", "))
    assert [f.name for f in FIELDS if f.required] == ["name"]
    assert {f.name: f.unit_kind for f in FIELDS if f.unit_kind} == {
        "memory_gb": "memory", "storage_gb": "storage",
        "cpu_utilization_pct": "percent", "memory_utilization_pct": "percent"}
    assert all(f.label for f in FIELDS)
    assert {"MB", "MiB", "GB", "percent", "fraction"} <= set(UNIT_CHOICES)


@pytest.mark.parametrize("field, raw, unit, expected", [
    # sizes: every unit binary (MB = MiB), GB out, as inventories mean them
    ("memory_gb", "16384", "MiB", 16),
    ("memory_gb", "1536", "MiB", 1.5),
    ("memory_gb", "16384", "MB", 16),
    ("memory_gb", "16 GB", "MB", 16),              # the cell's own unit wins
    ("memory_gb", "16384MB", "GiB", 16),
    ("memory_gb", "2 GiB", None, 2),
    ("memory_gb", "8", None, 8),                    # no unit anywhere: GB
    ("memory_gb", "1,024", "MB", 1),
    ("storage_gb", "1 TB", None, 1024),
    ("storage_gb", "1 TiB", None, 1024),
    ("storage_gb", "536870912000 B", None, 500),
    ("storage_gb", "0.5", "TB", 512),
    # cores
    ("cpu_cores", "4", None, 4),
    ("cpu_cores", "4.0", None, 4),
    ("cpu_cores", " 16 ", None, 16),
    # utilisation
    ("cpu_utilization_pct", "45", "percent", 45),
    ("cpu_utilization_pct", "45%", None, 45),
    ("cpu_utilization_pct", "0.45", "fraction", 45),
    ("cpu_utilization_pct", "45%", "fraction", 45),  # a written % is a percentage
    ("memory_utilization_pct", "99.5", None, 99.5),
    # addresses
    ("ip_address", "10.0.0.1", None, "10.0.0.1"),
    ("ip_address", "10.0.0.1, 10.0.0.2", None, "10.0.0.1"),   # the first one
    ("ip_address", "junk; 10.0.0.9", None, "10.0.0.9"),        # the first valid one
    ("ip_address", "2001:DB8:0:0::1", None, "2001:db8::1"),
    ("ip_address", "10.0.0.5/24", None, "10.0.0.5"),
    ("mac_address", "00:50:56:AB:CD:EF", None, "00:50:56:ab:cd:ef"),
    ("mac_address", "00-50-56-ab-cd-ef", None, "00:50:56:ab:cd:ef"),
    ("mac_address", "0050.56ab.cdef", None, "00:50:56:ab:cd:ef"),
    ("mac_address", "005056ABCDEF", None, "00:50:56:ab:cd:ef"),
    # lists
    ("tags", "zone:1, critical:yes", None, ["zone:1", "critical:yes"]),
    ("depends_on", "crm; erp|ldap\nerp", None, ["crm", "erp", "ldap"]),
    # text
    ("name", "  web01  ", None, "web01"),
    ("power_state", " powered   on ", None, "powered on"),
])
def test_coerce_values(field, raw, unit, expected):
    value, error = coerce(field, raw, unit)
    assert error is None
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("field, raw, unit, reason", [
    ("memory_gb", "16", "XB", "unknown unit 'XB'"),
    ("memory_gb", "16 XB", "GB", "unknown unit 'XB'"),
    ("memory_gb", "lots", "GB", "not a number"),
    ("memory_gb", "-4", "GB", "negative value"),
    ("memory_gb", "16", "percent", "unknown unit 'percent'"),
    ("cpu_cores", "four", None, "not a number"),
    ("cpu_cores", "4.5", None, "not a whole number"),
    ("cpu_cores", "4 vCPU", None, "not a number"),
    ("cpu_cores", "-2", None, "negative value"),
    ("cpu_utilization_pct", "145", "percent", "percentage above 100"),
    ("cpu_utilization_pct", "1.2", "fraction", "percentage above 100"),
    ("cpu_utilization_pct", "-3", None, "percentage below 0"),
    ("cpu_utilization_pct", "high", None, "not a number"),
    ("ip_address", "300.1.1.1", None, "not an IPv4 or IPv6 address"),
    ("ip_address", "web01.corp.local", None, "not an IPv4 or IPv6 address"),
    ("mac_address", "00:50:56:zz:cd:ef", None, "not a MAC address"),
])
def test_coerce_errors(field, raw, unit, reason):
    assert coerce(field, raw, unit) == (None, reason)


@pytest.mark.parametrize("raw", [None, "", "   ", "-", "N/A", "null", "None"])
def test_blank_cells_are_no_value_and_no_error(raw):
    for field in FIELD_NAMES:
        assert coerce(field, raw, None) == (None, None)


def test_coerce_accepts_the_field_object_too():
    assert coerce(FIELDS_BY_NAME["cpu_cores"], "8") == (8, None)


def test_normalise_name_folds_whitespace_and_case():
    assert normalise_name("  Web   01 ") == normalise_name("WEB 01") == "web 01"
    assert normalise_name("web\t01") == "web 01"
    assert normalise_name("web01") != normalise_name("web 01")


def test_derive_name_prefers_name_then_hostname_then_the_fqdn_host():
    assert derive_name({"name": "CRM-DB", "hostname": "crmdb01"}) == "CRM-DB"
    assert derive_name({"name": "  ", "hostname": " crmdb01 "}) == "crmdb01"
    assert derive_name({"fqdn": "crmdb01.corp.example.com."}) == "crmdb01"
    assert derive_name({"ip_address": "10.0.0.1"}) is None
    assert derive_name({}) is None
