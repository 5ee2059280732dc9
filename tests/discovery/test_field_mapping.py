"""The field-mapping engine: known export formats map with no manual step, unsure or
contradicted columns stay unmapped, conflicts are explained, learning wins."""
import csv
import random
import time
from pathlib import Path

import pytest

from portal.discovery import fields
from portal.discovery.field_mapping import (
    AUTO_ACCEPT_CONFIDENCE, MIN_CONFIDENCE, SYNONYMS, ColumnMapping, LearnedMapping,
    header_unit, normalise_header, suggest_field_mappings)

SAMPLES = Path(__file__).parent / "samples"
KEY_FIELDS = ("name", "ip_address", "os_name", "cpu_cores", "memory_gb", "storage_gb")


def read_sample(filename: str) -> tuple[list[str], list[list[str]]]:
    with open(SAMPLES / filename, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def by_source(mappings: list[ColumnMapping]) -> dict[str, ColumnMapping]:
    return {m.source: m for m in mappings}


UNMAPPED = (None, None)

EXPECTED = {
    "aws_migration_hub.csv": {
        "ExternalId": ("external_id", None),
        "SMBiosId": UNMAPPED,
        "IPAddress": ("ip_address", None),
        "MACAddress": ("mac_address", None),
        "HostName": ("hostname", None),
        "VMware.MoRefId": UNMAPPED,
        "VMware.VCenterId": UNMAPPED,
        "CPU.NumberOfProcessors": UNMAPPED,
        "CPU.NumberOfCores": UNMAPPED,            # logical cores win: what the guest sees
        "CPU.NumberOfLogicalCores": ("cpu_cores", None),
        "OS.Name": ("os_name", None),
        "OS.Version": ("os_version", None),
        "VMware.VMName": ("name", None),
        "RAM.TotalSizeInMB": ("memory_gb", "MB"),
        "RAM.UsedSizeInMB.Avg": UNMAPPED,
        "RAM.UsedSizeInMB.Max": UNMAPPED,
        "CPU.UsagePct.Avg": ("cpu_utilization_pct", "percent"),
        "CPU.UsagePct.Max": UNMAPPED,
        "DiskReadsPerSecondInKB.Avg": UNMAPPED,
        "DiskWritesPerSecondInKB.Avg": UNMAPPED,
        "DiskReadsOpsPerSecond.Avg": UNMAPPED,
        "DiskWritesOpsPerSecond.Avg": UNMAPPED,
        "NetworkReadsPerSecondInKB.Avg": UNMAPPED,
        "NetworkWritesPerSecondInKB.Avg": UNMAPPED,
        "Applications": ("application", None),
        "ApplicationWave": UNMAPPED,
        "Tags": ("tags", None),
        "ServerId": UNMAPPED,                     # ExternalId is the external id
    },
    "azure_migrate.csv": {
        "*Server Name": ("name", None),
        "IP addresses": ("ip_address", None),
        "*Cores": ("cpu_cores", None),
        "*Memory (In MB)": ("memory_gb", "MB"),
        "*OS name": ("os_name", None),
        "OS version": ("os_version", None),
        "OS architecture": UNMAPPED,
        "CPU utilization percentage": ("cpu_utilization_pct", "percent"),
        "Memory utilization percentage": ("memory_utilization_pct", "percent"),
        "Network adapters": UNMAPPED,
        "Network In throughput": UNMAPPED,
        "Network Out throughput": UNMAPPED,
        "Boot type": UNMAPPED,
        "Number of disks": UNMAPPED,
        "Disk 1 size (In GB)": UNMAPPED,          # one disk of several is not the total
        "Disk 1 read throughput (MB per second)": UNMAPPED,
        "Disk 1 write throughput (MB per second)": UNMAPPED,
        "Disk 1 read ops (operations per second)": UNMAPPED,
        "Disk 1 write ops (operations per second)": UNMAPPED,
        "Disk 2 size (In GB)": UNMAPPED,
        "Disk 2 read throughput (MB per second)": UNMAPPED,
        "Disk 2 write throughput (MB per second)": UNMAPPED,
        "Disk 2 read ops (operations per second)": UNMAPPED,
        "Disk 2 write ops (operations per second)": UNMAPPED,
        "Virtual machine ID": ("external_id", None),
        "Virtual machine manager ID": UNMAPPED,
        "MAC Address": ("mac_address", None),
    },
    "rvtools_vinfo.csv": {
        "VM": ("name", None),
        "Powerstate": ("power_state", None),
        "Template": UNMAPPED,
        "SRM Placeholder": UNMAPPED,
        "Config status": UNMAPPED,
        "DNS Name": ("fqdn", None),
        "Connection state": UNMAPPED,
        "Guest state": UNMAPPED,
        "Heartbeat": UNMAPPED,
        "PowerOn": UNMAPPED,
        "Creation date": UNMAPPED,
        "CPUs": ("cpu_cores", None),
        "Memory": ("memory_gb", "MiB"),           # vInfo memory is MiB, the header says not
        "NICs": UNMAPPED,
        "Disks": UNMAPPED,
        "Total disk capacity MiB": ("storage_gb", "MiB"),
        "Primary IP Address": ("ip_address", None),
        "Network #1": UNMAPPED,
        "Resource pool": UNMAPPED,
        "Folder": UNMAPPED,
        "vApp": UNMAPPED,
        "Provisioned MiB": UNMAPPED,              # the disks' capacity wins
        "In Use MiB": UNMAPPED,
        "Unshared MiB": UNMAPPED,
        "HA Restart Priority": UNMAPPED,
        "Hardware version": UNMAPPED,
        "Annotation": ("description", None),
        "Datacenter": ("location", None),
        "Cluster": UNMAPPED,                      # only one column feeds location
        "Host": ("hypervisor", None),
        "OS according to the configuration file": ("os_name", None),
        "OS according to the VMware Tools": UNMAPPED,
        "VM ID": UNMAPPED,                        # the VM UUID is the external id
        "VM UUID": ("external_id", None),
        "VI SDK Server": UNMAPPED,
    },
    "servicenow_cmdb_ci_server.csv": {
        "name": ("name", None),
        "sys_id": ("external_id", None),
        "sys_class_name": ("asset_type", None),
        "host_name": ("hostname", None),
        "fqdn": ("fqdn", None),
        "ip_address": ("ip_address", None),
        "mac_address": ("mac_address", None),
        "os": ("os_name", None),
        "os_version": ("os_version", None),
        "cpu_count": ("cpu_cores", None),
        "cpu_speed": UNMAPPED,
        "ram (MB)": ("memory_gb", "MB"),
        "disk_space (GB)": ("storage_gb", "GB"),
        "used_for": ("environment", None),
        "location.name": ("location", None),
        "manufacturer": ("manufacturer", None),
        "model_id": ("model", None),
        "serial_number": ("serial_number", None),
        "owned_by": ("owner", None),
        "assigned_to": UNMAPPED,                  # owned_by is the owner
        "support_group": UNMAPPED,
        "install_status": UNMAPPED,               # not a power state
        "operational_status": UNMAPPED,
        "virtual": UNMAPPED,
        "short_description": ("description", None),
        "sys_updated_on": UNMAPPED,
    },
    "konveyor_tackle.csv": {
        "Record Type 1": UNMAPPED,
        "Application Name": ("name", None),
        "Description": ("description", None),
        "Comments": UNMAPPED,
        "Business Service": ("application", None),
        "Dependency": ("depends_on", None),
        "Dependency Direction": UNMAPPED,
        "Binary Group": UNMAPPED,
        "Binary Artifact": UNMAPPED,
        "Binary Version": UNMAPPED,
        "Binary Packaging": UNMAPPED,
        "Repository Type": UNMAPPED,
        "Repository URL": UNMAPPED,
        "Repository Branch": UNMAPPED,
        "Repository Path": UNMAPPED,
        "Owner": ("owner", None),
        "Contributors": UNMAPPED,
        "Tag Category 1": UNMAPPED,
        "Tag 1": ("tags", None),
        "Tag Category 2": UNMAPPED,
        "Tag 2": UNMAPPED,
        "Tag Category 3": UNMAPPED,
        "Tag 3": UNMAPPED,
    },
}


@pytest.mark.parametrize("filename", sorted(EXPECTED))
def test_known_format_maps_completely_with_no_manual_step(filename):
    columns, rows = read_sample(filename)
    mappings = suggest_field_mappings(columns, rows)

    assert [m.source for m in mappings] == columns
    assert {m.source: (m.target, m.unit) for m in mappings} == EXPECTED[filename]
    targets = [m.target for m in mappings if m.target]
    assert len(targets) == len(set(targets)), "two columns feed one field"
    present = [f for f in KEY_FIELDS if f in targets]
    assert "name" in present
    for m in mappings:
        if m.target in KEY_FIELDS:
            assert m.confidence >= AUTO_ACCEPT_CONFIDENCE, m
            assert not m.needs_review
        assert 0 <= m.confidence <= 1 and m.reason.endswith(".")


@pytest.mark.parametrize("filename", sorted(EXPECTED))
def test_every_mapped_cell_of_a_known_format_coerces(filename):
    columns, rows = read_sample(filename)
    mappings = suggest_field_mappings(columns, rows)
    for row in rows:
        for index, m in enumerate(mappings):
            if m.target and index < len(row):
                value, error = fields.coerce(m.target, row[index], m.unit)
                assert error is None, (m.source, row[index], error)


def test_key_fields_each_format_has_are_all_mapped():
    have = {
        "aws_migration_hub.csv": {"name", "ip_address", "os_name", "cpu_cores", "memory_gb"},
        "azure_migrate.csv": {"name", "ip_address", "os_name", "cpu_cores", "memory_gb"},
        "rvtools_vinfo.csv": set(KEY_FIELDS),
        "servicenow_cmdb_ci_server.csv": set(KEY_FIELDS),
        "konveyor_tackle.csv": {"name"},
    }
    for filename, expected in have.items():
        mapped = {m.target for m in suggest_field_mappings(*read_sample(filename))}
        assert expected <= mapped, filename


def test_units_convert_the_sample_values_exactly():
    rv = by_source(suggest_field_mappings(*read_sample("rvtools_vinfo.csv")))
    assert fields.coerce("memory_gb", "4096", rv["Memory"].unit) == (4, None)
    assert fields.coerce("storage_gb", "40960", rv["Total disk capacity MiB"].unit) == (
        40, None)
    snow = by_source(suggest_field_mappings(*read_sample("servicenow_cmdb_ci_server.csv")))
    assert fields.coerce("memory_gb", "8192", snow["ram (MB)"].unit) == (8, None)
    assert "unit MiB inferred from the values" in rv["Memory"].reason
    assert "unit MB taken from the header" in snow["ram (MB)"].reason


def test_losers_of_a_known_format_name_the_winner():
    rv = by_source(suggest_field_mappings(*read_sample("rvtools_vinfo.csv")))
    assert rv["Cluster"].method == "unmapped"
    assert rv["Cluster"].reason == (
        "Also matches location, but column 'Datacenter' matches it better.")
    tackle = by_source(suggest_field_mappings(*read_sample("konveyor_tackle.csv")))
    assert "application went to column 'Business Service'" in tackle["Application Name"].reason


# ---------------------------------------------------------------------------------------
# Headers


@pytest.mark.parametrize("header, expected", [
    ("RAM (MB)", "ram"),
    ("*Server Name", "server name"),
    ("Server name*", "server name"),
    ("location.name", "location name"),
    ("OS_Version", "os version"),
    ("cpuUtilizationPct", "cpu utilization pct"),
    ("Memory [GiB]", "memory"),
    ("IPAddress", "ip address"),
    ("CPUs", "cpus"),
    ("vCPUs", "vcpus"),
    ("Provisioned MiB", "provisioned mib"),
    ("RAM.TotalSizeInMB", "ram total size in mb"),
    ("  Primary   IP-Address ", "primary ip address"),
])
def test_normalise_header(header, expected):
    assert normalise_header(header) == expected


@pytest.mark.parametrize("header, unit", [
    ("RAM (MB)", "MB"),
    ("Memory [GiB]", "GiB"),
    ("*Memory (In MB)", "MB"),
    ("ram_mb", "MB"),
    ("Memory in GB", "GB"),
    ("RAM.TotalSizeInMB", "MB"),
    ("Provisioned MiB", "MiB"),
    ("Video Ram KiB", "KiB"),
    ("Storage (TB)", "TB"),
    ("CPU %", "percent"),
    ("Memory (%)", "percent"),
    ("cpuUtilizationPct", "percent"),
    ("CPU utilization percentage", "percent"),
    ("Disk 1 read throughput (MB per second)", None),   # a rate is no field's unit
    ("DiskReadsPerSecondInKB.Avg", None),
    ("Memory", None),
    ("Server Name", None),
])
def test_header_unit(header, unit):
    assert header_unit(header) == unit


# ---------------------------------------------------------------------------------------
# Evidence from the values


def test_unknown_header_full_of_ip_addresses_maps_by_values():
    m = suggest_field_mappings(["Server", "Column 7"],
                               [["a", "10.0.0.1"], ["b", "10.0.0.2"], ["c", "fe80::1"]])[1]
    assert (m.target, m.method) == ("ip_address", "values")
    assert MIN_CONFIDENCE <= m.confidence < AUTO_ACCEPT_CONFIDENCE   # shown for review
    assert m.reason == "3 of 3 sample values are IP addresses."


def test_header_contradicted_by_its_values_is_vetoed():
    dotted = suggest_field_mappings(["Server", "IP"], [["a", "a.corp.local"],
                                                       ["b", "b.corp.local"]])[1]
    assert dotted.target == "fqdn" and dotted.method == "values"
    assert "header 'IP' suggests ip_address, but no sample value is an IP address" \
        in dotted.reason
    short = suggest_field_mappings(["Server", "IP"], [["a", "alpha"], ["b", "beta"]])[1]
    assert (short.target, short.method) == (None, "unmapped")
    assert "no sample value is an IP address" in short.reason


@pytest.mark.parametrize("values, unit", [
    (["2048", "4096", "16384"], "MB"),              # magnitude says megabytes
    (["16 GB", "8 GB", "32GB"], "GB"),              # units written in the cells
    (["4", "8", "16"], "GB"),
])
def test_memory_unit_comes_from_the_values_when_the_header_has_none(values, unit):
    m = suggest_field_mappings(["Server", "Memory"], [["s", v] for v in values])[1]
    assert (m.target, m.unit) == ("memory_gb", unit)
    assert m.confidence >= AUTO_ACCEPT_CONFIDENCE


def test_binary_units_elsewhere_in_the_file_make_inferred_units_binary():
    m = suggest_field_mappings(["VM", "Memory", "Provisioned MiB"],
                               [["a", "4096", "40960"], ["b", "8192", "81920"]])[1]
    assert m.unit == "MiB" and "binary units" in m.reason


def test_utilisation_units_and_percentage_columns():
    columns = ["Server", "CPU Utilization", "Memory Usage", "CPU %"]
    rows = [["a", "0.45", "12%", "45"], ["b", "0.1", "15%", "10"]]
    cpu, memory, cpu_pct = suggest_field_mappings(columns, rows)[1:]
    assert (cpu.target, cpu.unit) == ("cpu_utilization_pct", "fraction")
    assert (memory.target, memory.unit) == ("memory_utilization_pct", "percent")
    # "CPU" alone would be cores; the % makes it the utilisation (already taken here).
    assert cpu_pct.target is None and "cpu_utilization_pct" in cpu_pct.reason
    alone = suggest_field_mappings(["Server", "CPU %"], [["a", "45"]])[1]
    assert (alone.target, alone.unit) == ("cpu_utilization_pct", "percent")


def test_counts_are_not_percentages_and_words_are_not_counts():
    mhz = suggest_field_mappings(["Server", "CPU Utilization"], [["a", "2400"], ["b", "3000"]])
    assert mhz[1].target is None and "above 100" in mhz[1].reason
    words = suggest_field_mappings(["Server", "Cores"], [["a", "four"], ["b", "eight"]])
    assert words[1].target is None and "not numbers" in words[1].reason
    ghz = suggest_field_mappings(["Server", "CPU"], [["a", "2.4"], ["b", "3.1"]])
    assert ghz[1].target is None and "not whole numbers" in ghz[1].reason
    cores = suggest_field_mappings(["Server", "CPU"], [["a", "4.0"], ["b", "8"]])
    assert cores[1].target == "cpu_cores"


def test_one_disk_of_a_numbered_series_is_not_the_storage_total():
    m = suggest_field_mappings(["Server", "Disk 1 size (In GB)"], [["a", "100"]])[1]
    assert m.target is None and "numbered series" in m.reason


def test_a_generic_status_column_needs_power_state_values():
    columns = ["Server", "Status"]
    power = suggest_field_mappings(columns, [["a", "running"], ["b", "stopped"]])[1]
    assert power.target == "power_state" and power.confidence >= AUTO_ACCEPT_CONFIDENCE
    install = suggest_field_mappings(columns, [["a", "Installed"], ["b", "Retired"]])[1]
    assert install.target is None and install.reason.startswith("Unsure")


# ---------------------------------------------------------------------------------------
# Conflicts and uncertainty


def test_two_ip_columns_map_once_and_the_loser_names_the_winner():
    columns = ["Server", "IP Address", "Primary IP Address"]
    rows = [["a", "10.0.0.1", "10.0.0.1"], ["b", "10.0.0.2", "10.0.0.2"]]
    server, first, second = suggest_field_mappings(columns, rows)
    assert first.target == "ip_address"
    assert (second.target, second.method) == (None, "unmapped")
    assert second.reason == ("Also matches ip_address, but column 'IP Address' "
                             "matches it better.")


def test_equal_candidates_go_to_the_leftmost_column():
    columns = ["Server", "Primary IP", "Primary IP Address"]   # both synonyms at 0.95
    rows = [["a", "10.0.0.1", "10.0.0.1"]]
    assert [m.target for m in suggest_field_mappings(columns, rows)] == [
        "name", "ip_address", None]


def test_a_loser_takes_its_next_candidate_when_that_is_free():
    columns = ["Name", "Application Name", "Hostname"]
    mappings = suggest_field_mappings(columns, [["a", "CRM", "a01"]])
    assert [m.target for m in mappings] == ["name", "application", "hostname"]


def test_an_application_inventory_names_assets_after_the_application():
    m = suggest_field_mappings(["Application Name", "Description", "Owner"],
                               [["CRM", "x", "y"]])[0]
    assert m.target == "name" and "no name, hostname or FQDN column" in m.reason


def test_low_confidence_fuzzy_column_stays_unmapped():
    m = suggest_field_mappings(["Server", "Manfctr"], [["a", "Dell"]])[1]
    assert (m.target, m.method) == (None, "unmapped")
    assert m.reason.startswith("Unsure: best guess manufacturer at 0.5")
    assert m.confidence < MIN_CONFIDENCE


def test_a_typo_maps_by_fuzzy_match_but_needs_review():
    m = suggest_field_mappings(["Server", "Opertaing System"], [["a", "Ubuntu 22.04"]])[1]
    assert (m.target, m.method) == ("os_name", "fuzzy")
    assert MIN_CONFIDENCE <= m.confidence <= 0.85 and m.needs_review


def test_sharing_one_word_is_not_a_fuzzy_match():
    m = suggest_field_mappings(["Application Tier"], [["gold"]])[0]
    assert m.target is None


# ---------------------------------------------------------------------------------------
# Learning


def test_learned_mapping_wins_over_synonyms():
    columns = ["Server", "Host", "RAM"]
    rows = [["a", "esx01", "16"]]
    learned = {normalise_header("Host"): LearnedMapping("hostname", None, 0.7),
               normalise_header("RAM"): LearnedMapping("memory_gb", "GiB", 1.0)}
    before = suggest_field_mappings(columns, rows)
    after = suggest_field_mappings(columns, rows, learned)
    assert before[1].target == "hypervisor"
    assert (after[1].target, after[1].method, after[1].confidence) == (
        "hostname", "learned", 0.95)
    assert (after[2].target, after[2].unit, after[2].confidence) == ("memory_gb", "GiB", 1.0)


def test_learned_none_keeps_a_column_unmapped():
    learned = {normalise_header("Primary IP Address"): LearnedMapping(None, None, 1.0)}
    m = suggest_field_mappings(["Server", "Primary IP Address"], [["a", "10.0.0.1"]],
                               learned)[1]
    assert (m.target, m.method) == (None, "learned")
    assert "as taught" in m.reason


def test_learned_mapping_beats_an_exact_header_of_another_column():
    learned = {normalise_header("Mgmt Address"): LearnedMapping("ip_address", None, 0.9)}
    columns = ["Server", "IP Address", "Mgmt Address"]
    rows = [["a", "10.0.0.1", "10.9.0.1"]]
    targets = [m.target for m in suggest_field_mappings(columns, rows, learned)]
    assert targets == ["name", None, "ip_address"]


# ---------------------------------------------------------------------------------------
# Properties of the engine


def test_same_inputs_give_the_same_output():
    columns, rows = read_sample("rvtools_vinfo.csv")
    first = suggest_field_mappings(columns, rows)
    assert all(suggest_field_mappings(list(columns), [list(r) for r in rows]) == first
               for _ in range(3))


def test_ragged_rows_and_empty_samples_do_not_break_it():
    mappings = suggest_field_mappings(["Name", "IP", "Memory"], [["a"], [], ["b", None]])
    assert [m.target for m in mappings] == ["name", "ip_address", "memory_gb"]
    assert suggest_field_mappings([], []) == []


def test_synonyms_point_at_real_fields():
    targets = {target for pairs in SYNONYMS.values() for target, _ in pairs}
    assert targets <= set(fields.FIELD_NAMES)
    assert all(0 < confidence < 0.98 for pairs in SYNONYMS.values() for _, confidence in pairs)


def test_five_hundred_columns_by_fifty_rows_map_well_under_a_second():
    generator = random.Random(4)
    base = [c for filename in sorted(EXPECTED) for c in read_sample(filename)[0]]
    columns = [base[i] if i < len(base) else f"Custom attribute {i}" for i in range(500)]
    values = ("10.1.2.3", "16384", "web01.corp.local", "Ubuntu 22.04", "45.5", "free text")
    rows = [[generator.choice(values) for _ in columns] for _ in range(50)]
    started = time.perf_counter()
    mappings = suggest_field_mappings(columns, rows)
    elapsed = time.perf_counter() - started
    assert len(mappings) == 500
    assert elapsed < 1.0, f"{elapsed:.2f}s"
