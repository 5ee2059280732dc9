"""Cleansing: one vocabulary, one record per real asset, and the data-quality numbers."""
import time

import pytest

from portal.discovery import fields
from portal.discovery.cleansing import (
    ASSET_TYPES, CRITICALITIES, ENVIRONMENTS, POWER_STATES, cleanse, data_quality_metrics,
    normalise_asset_type, normalise_criticality, normalise_environment, normalise_os,
    normalise_power_state, parse_boolean)


@pytest.mark.parametrize("raw, expected", [
    ("PROD", "production"), ("prd", "production"), ("Production", "production"),
    ("live", "production"), ("PROD-EU", "production"), ("prod1", "production"),
    ("Pre-Prod", "staging"), ("preproduction", "staging"), ("Staging", "staging"),
    ("STG", "staging"),
    ("test", "test"), ("TST", "test"), ("QA", "test"), ("UAT", "test"), ("SIT", "test"),
    ("User Acceptance", "test"), ("Acceptance", "test"),
    ("dev", "development"), ("Development", "development"), ("Sandbox", "development"),
    ("Dev/Test", "development"),
    ("DR", "dr"), ("Disaster Recovery", "dr"), ("Prod DR", "dr"), ("BCP", "dr"),
    # outside the vocabulary: kept, lower-cased, whitespace folded
    ("Non-Prod", "non-prod"), ("Training", "training"), ("  Demo   Lab ", "demo lab"),
])
def test_environment_variants(raw, expected):
    assert normalise_environment(raw) == expected


def test_environment_vocabulary_is_the_documented_set():
    assert ENVIRONMENTS == ("production", "staging", "test", "development", "dr")


# Real strings: RVTools "OS according to the configuration file" / "... VMware Tools",
# ServiceNow cmdb_ci_server os + os_version, Azure Migrate and AWS Migration Hub exports.
@pytest.mark.parametrize("os_name, os_version, expected", [
    ("Microsoft Windows Server 2019 (64-bit)", None, ("Windows Server", "2019")),
    ("Microsoft Windows Server 2019 Standard", None, ("Windows Server", "2019")),
    ("Microsoft Windows Server 2019 Datacenter", "10.0.17763", ("Windows Server", "2019")),
    ("Windows 2019 Datacenter", "10.0.17763", ("Windows Server", "2019")),
    ("Windows 2012 R2 Standard", "6.3.9600", ("Windows Server", "2012 R2")),
    ("Windows Server 2012R2", None, ("Windows Server", "2012 R2")),
    ("Microsoft Windows Server 2016 Standard", "10.0.14393", ("Windows Server", "2016")),
    ("Microsoft Windows Server 2008 R2 (64-bit)", None, ("Windows Server", "2008 R2")),
    ("Microsoft Windows Server 2003 Standard (32-bit)", None, ("Windows Server", "2003")),
    ("Microsoft Windows Server 2016 or later (64-bit)", None, ("Windows Server", None)),
    ("Windows Server", "10.0.20348", ("Windows Server", "2022")),
    ("Microsoft Windows 10 (64-bit)", None, ("Windows", "10")),
    ("Red Hat Enterprise Linux 8 (64-bit)", "8.6", ("Red Hat Enterprise Linux", "8.6")),
    ("Red Hat Enterprise Linux 8.6 (Ootpa)", None, ("Red Hat Enterprise Linux", "8.6")),
    ("Red Hat Enterprise Linux Server release 7.9 (Maipo)", None,
     ("Red Hat Enterprise Linux", "7.9")),
    ("Linux Red Hat", "8.8", ("Red Hat Enterprise Linux", "8.8")),
    ("RHEL 7.9", None, ("Red Hat Enterprise Linux", "7.9")),
    ("Ubuntu 22.04.3 LTS", None, ("Ubuntu", "22.04")),
    ("Ubuntu 20.04", "20.04", ("Ubuntu", "20.04")),
    ("Ubuntu Linux (64-bit)", None, ("Ubuntu", None)),
    ("CentOS 7 (64-bit)", None, ("CentOS", "7")),
    ("CentOS Linux 7 (Core)", None, ("CentOS", "7")),
    ("CentOS Linux 8", "8.5.2111", ("CentOS", "8.5")),
    ("CentOS 4/5/6/7 (64-bit)", None, ("CentOS", None)),
    ("CentOS Stream 9", None, ("CentOS Stream", "9")),
    ("SLES 15 SP4", None, ("SUSE Linux Enterprise Server", "15 SP4")),
    ("SUSE Linux Enterprise 15 (64-bit)", "15.4", ("SUSE Linux Enterprise Server", "15 SP4")),
    ("SUSE Linux Enterprise Server 12 SP5", None, ("SUSE Linux Enterprise Server", "12 SP5")),
    ("Linux SuSE", "15.4", ("SUSE Linux Enterprise Server", "15 SP4")),
    ("Oracle Linux 7 (64-bit)", None, ("Oracle Linux", "7")),
    ("Oracle Linux Server 7.9", None, ("Oracle Linux", "7.9")),
    ("Debian GNU/Linux 10 (64-bit)", None, ("Debian", "10")),
    ("Debian GNU/Linux 11 (bullseye)", None, ("Debian", "11")),
    ("Amazon Linux 2 (64-bit)", None, ("Amazon Linux", "2")),
    ("AIX", "7.2", ("AIX", "7.2")),
    ("IBM AIX", "7200-05-03-2148", ("AIX", "7.2")),
    ("Oracle Solaris 11 (64-bit)", None, ("Solaris", "11")),
    ("Solaris", "5.11", ("Solaris", "11")),
    ("SunOS", "5.10", ("Solaris", "10")),
    ("HP-UX", "B.11.31", ("HP-UX", "11i v3")),
    ("HP/UX", "B.11.23", ("HP-UX", "11i v2")),
    ("z/OS", "V2R4", ("z/OS", "2.4")),
    ("z/OS 2.5", None, ("z/OS", "2.5")),
    # unknown families keep their name (without bitness noise) and version
    ("Other 3.x or later Linux (64-bit)", None, ("Other 3.x or later Linux", None)),
    ("FreeBSD 12 (64-bit)", "12.3", ("FreeBSD 12", "12.3")),
    ("openSUSE Leap 15.5", None, ("openSUSE Leap 15.5", None)),
    # the whole OS written in the version column
    (None, "RHEL 7", ("Red Hat Enterprise Linux", "7")),
])
def test_os_names_and_versions(os_name, os_version, expected):
    assert normalise_os(os_name, os_version) == expected
    assert normalise_os(*expected) == expected  # idempotent: cleansing twice changes nothing


@pytest.mark.parametrize("raw, expected", [
    ("1 - most critical", "critical"), ("2 - somewhat critical", "high"),
    ("3 - less critical", "medium"), ("4 - not critical", "low"), ("1", "critical"),
    ("Tier 0", "critical"), ("Tier 1", "critical"), ("tier-2", "high"), ("Tier 3", "medium"),
    ("Mission Critical", "critical"), ("Business-Critical", "critical"), ("HIGH", "high"),
    ("Moderate", "medium"), ("normal", "medium"), ("Non-critical", "low"), ("Low", "low"),
    ("Gold", "high"), ("Bronze", "low"), ("Strategic", "strategic"),
])
def test_business_criticality(raw, expected):
    assert normalise_criticality(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("Server", "server"), ("Virtual Machine", "server"), ("VM", "server"),
    ("Linux Server", "server"), ("Application Server", "server"),
    ("Database", "database"), ("Database Server", "database"), ("DB Instance", "database"),
    ("Business Application", "application"), ("App", "application"),
    ("Load Balancer", "network"), ("Firewall", "network"), ("Storage Array", "storage"),
    ("NAS", "storage"), ("Printer", "other"),
])
def test_asset_types(raw, expected):
    assert normalise_asset_type(raw) == expected
    assert expected in ASSET_TYPES


@pytest.mark.parametrize("raw, expected", [
    ("poweredOn", "on"), ("Running", "on"), ("ON", "on"), ("true", "on"),
    ("poweredOff", "off"), ("Stopped", "off"), ("deallocated", "off"), ("No", "off"),
    ("suspended", "suspended"), ("Paused", "suspended"), ("Unknown", "unknown"),
])
def test_power_states(raw, expected):
    assert normalise_power_state(raw) == expected


def test_vocabularies_are_small_and_documented():
    assert CRITICALITIES == ("critical", "high", "medium", "low")
    assert POWER_STATES == ("on", "off", "suspended")
    assert ASSET_TYPES == ("server", "database", "application", "network", "storage",
                           "other")


@pytest.mark.parametrize("raw, expected", [
    ("Yes", True), ("TRUE", True), ("1", True), ("on", True), (True, True),
    ("no", False), ("False", False), ("0", False), ("off", False),
    ("", None), (None, None), ("maybe", None),
])
def test_parse_boolean(raw, expected):
    assert parse_boolean(raw) is expected


# ---------------------------------------------------------------------------------------
# One record


def test_record_normalisation_text_hosts_and_enums():
    record = {"_row": 7, "name": "  Web   01 ", "hostname": "WEB01.Corp.Example.COM.",
              "ip_address": "10.0.0.1", "environment": "PRD", "asset_type": "Virtual Machine",
              "os_name": "Microsoft Windows Server 2019 (64-bit)", "application": "CRM\tPortal",
              "business_criticality": "2 - somewhat critical", "power_state": "poweredOn",
              "tags": ["zone:1", "ZONE:1", " critical "], "_extra": {"Cluster": " CL-01 "}}
    out = cleanse([record]).records[0]
    assert out == {
        "_row": 7, "name": "Web 01", "hostname": "web01", "fqdn": "web01.corp.example.com",
        "ip_address": "10.0.0.1", "environment": "production", "asset_type": "server",
        "os_name": "Windows Server", "os_version": "2019", "application": "CRM Portal",
        "business_criticality": "high", "power_state": "on", "tags": ["zone:1", "critical"],
        "_extra": {"Cluster": " CL-01 "}}  # _extra is carried through untouched
    assert record["name"] == "  Web   01 "  # the input is not modified


def test_a_record_without_name_gets_one_from_its_host():
    out = cleanse([{"_row": 2, "fqdn": "db01.corp.example.com", "cpu_cores": 4}]).records[0]
    assert out["name"] == "db01"
    assert out["cpu_cores"] == 4


def test_empty_values_are_dropped_and_zeros_kept():
    out = cleanse([{"_row": 2, "name": "a", "owner": "", "tags": [], "model": None,
                    "cpu_cores": 0}]).records[0]
    assert out == {"_row": 2, "name": "a", "cpu_cores": 0}


# ---------------------------------------------------------------------------------------
# De-duplication


def _rows(result):
    return [record.get("_rows", [record["_row"]]) for record in result.records]


@pytest.mark.parametrize("first, second, by", [
    ({"name": "a", "external_id": "INV-1"}, {"name": "b", "external_id": "inv-1"},
     ["external_id"]),
    ({"name": "a", "hostname": "WEB01"}, {"name": "b", "hostname": " web01 "}, ["hostname"]),
    ({"name": "a", "hostname": "web01"}, {"name": "b", "fqdn": "WEB01.corp.example.com"},
     ["hostname"]),
    ({"name": "a", "fqdn": "web01.corp.example.com"},
     {"name": "b", "fqdn": "web01.corp.example.com."}, ["fqdn", "hostname"]),
    ({"name": "a", "ip_address": "10.0.0.5"}, {"name": "b", "ip_address": "10.0.0.5"},
     ["ip_address"]),
    ({"name": "  Web  01 "}, {"name": "WEB 01"}, ["name"]),
])
def test_duplicates_merge_by_each_identifier(first, second, by):
    result = cleanse([{"_row": 2, **first}, {"_row": 3, **second}])
    assert result.duplicates_merged == 1
    assert _rows(result) == [[2, 3]]
    assert result.merges == [{"kept_row": 2, "merged_rows": [3], "by": by}]


def test_chains_merge_through_a_union_find():
    records = [
        {"_row": 2, "name": "A", "ip_address": "10.0.0.1"},
        {"_row": 3, "name": "other"},
        {"_row": 4, "name": "B", "ip_address": "10.0.0.1", "hostname": "bee"},
        {"_row": 5, "name": "C", "hostname": "BEE", "external_id": "X-9"},
        {"_row": 6, "name": "D", "external_id": "x-9"},
    ]
    result = cleanse(records)
    assert _rows(result) == [[2, 4, 5, 6], [3]]  # first-seen order
    assert result.duplicates_merged == 3
    assert result.merges == [{"kept_row": 2, "merged_rows": [4, 5, 6],
                              "by": ["external_id", "hostname", "ip_address"]}]


def test_placeholder_identities_join_nothing():
    records = [{"_row": 2, "name": "a", "ip_address": "127.0.0.1", "hostname": "localhost"},
               {"_row": 3, "name": "b", "ip_address": "127.0.0.1", "hostname": "localhost"},
               {"_row": 4, "name": "c", "ip_address": "169.254.10.1"},
               {"_row": 5, "name": "d", "ip_address": "169.254.10.1"}]
    assert cleanse(records).duplicates_merged == 0


def test_merge_fills_gaps_keeps_first_and_lists_conflicts():
    records = [
        {"_row": 2, "name": "web01", "ip_address": "10.0.0.1", "environment": "PROD",
         "depends_on": ["db01"], "tags": ["a"], "_extra": {"Cluster": "CL-1"}},
        {"_row": 9, "name": "WEB01", "ip_address": "10.0.0.2", "environment": "Production",
         "cpu_cores": 8, "depends_on": ["DB01", "cache01"], "tags": ["b"],
         "_extra": {"Cluster": "CL-2", "Folder": "Web"}},
    ]
    result = cleanse(records)
    merged = result.records[0]
    assert merged["ip_address"] == "10.0.0.1"           # conflicting: the first is kept
    assert merged["environment"] == "production"        # same after normalisation: no conflict
    assert merged["cpu_cores"] == 8                     # a gap filled from the later row
    assert merged["depends_on"] == ["db01", "cache01"]  # unioned, case-insensitively
    assert merged["tags"] == ["a", "b"]
    assert merged["_extra"] == {"Cluster": "CL-1", "Folder": "Web"}
    assert merged["_rows"] == [2, 9]
    assert result.conflicts == [{"row": 2, "merged_row": 9, "field": "ip_address",
                                 "kept": "10.0.0.1", "dropped": "10.0.0.2"}]
    assert result.quality["conflicts"] == 1


def test_whitespace_and_case_variants_of_a_name_are_one_asset():
    names = ["App Server 1", "app server 1", "  APP   SERVER 1 ", "App\tServer\t1"]
    result = cleanse({"_row": i, "name": name} for i, name in enumerate(names, start=2))
    assert len(result.records) == 1
    assert result.records[0]["name"] == "App Server 1"
    assert {fields.normalise_name(n) for n in names} == {"app server 1"}


# ---------------------------------------------------------------------------------------
# Quality


def test_quality_metrics_exact_numbers():
    records = [
        {"_row": 2, "name": "a", "ip_address": "10.0.0.1", "os_name": "RHEL 8",
         "environment": "prod", "application": "Pay", "cpu_cores": 4},
        {"_row": 3, "name": "b", "os_name": "Ubuntu 22.04", "environment": "dev"},
        {"_row": 4, "name": "A"},            # duplicate of "a"
        {"_row": 5, "name": "c"},
    ]
    quality = cleanse(records, invalid_counts={"cpu_cores": 1, "memory_gb": 0},
                      rows_total=5).quality
    completeness = quality["completeness"]
    assert set(completeness) == set(fields.FIELD_NAMES)
    assert completeness["name"] == 1.0
    assert completeness["ip_address"] == round(1 / 3, 4)
    assert completeness["os_name"] == round(2 / 3, 4)
    assert completeness["os_version"] == round(2 / 3, 4)
    assert completeness["memory_gb"] == 0.0
    # weighted key completeness: name 2*1 + ip 1/3 + os_name 2*2/3 + os_version 2*2/3
    #   + cpu 1/3 + environment 2/3 + application 2*1/3 = 20/3 of 14
    assert quality["key_field_completeness"] == round(20 / 3 / 14, 4)
    assert quality["records_in"] == 4 and quality["records_out"] == 3
    assert quality["duplicates_merged"] == 1 and quality["duplicate_rate"] == 0.25
    assert quality["invalid_values"] == {"cpu_cores": 1}
    assert quality["invalid_total"] == 1 and quality["invalid_rate"] == 0.2
    # 100 * 20/42 - 50 * 0.25 - 50 * 0.2 = 25.119...
    assert quality["score"] == 25.1


def test_quality_of_nothing_and_of_perfect_data():
    assert data_quality_metrics([], records_in=0)["score"] == 0.0
    full = {name: "x" for name in fields.FIELD_NAMES}
    assert data_quality_metrics([full], records_in=1)["score"] == 100.0


def test_cleansing_200k_records_stays_fast():
    os_names = ["Microsoft Windows Server 2019 (64-bit)", "Red Hat Enterprise Linux 8 (64-bit)",
                "Ubuntu 22.04.3 LTS"]

    def records():
        for i in range(200_000):
            j = i - 1 if i % 50 == 49 else i     # every 50th row repeats the one before
            yield {"_row": i + 2, "name": f"srv-{j:07d}", "hostname": f"SRV-{j:07d}",
                   "ip_address": f"10.{j >> 16 & 255}.{j >> 8 & 255}.{j & 255}",
                   "os_name": os_names[j % 3], "environment": "PRD", "cpu_cores": 4,
                   "depends_on": [f"srv-{j + 1:07d}"], "_extra": {}}

    started = time.perf_counter()
    result = cleanse(records())
    elapsed = time.perf_counter() - started
    assert result.duplicates_merged == 4_000
    assert elapsed < 20, f"cleansing 200k records took {elapsed:.1f}s"
