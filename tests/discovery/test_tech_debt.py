"""Tech debt: the shipped end-of-life table, tolerant matching, statuses and scores."""
from datetime import date

import pytest

from portal.discovery.tech_debt import (
    EOL_TABLE_PATH, STATUSES, assess_tech_debt, judge, load_eol_table, parse_software,
    read_eol_table, software_mentions)

TODAY = date(2026, 11, 25)

REQUIRED = {
    "Windows Server": ["2003", "2008", "2008 R2", "2012", "2012 R2", "2016", "2019", "2022",
                       "2025"],
    "Red Hat Enterprise Linux": ["5", "6", "7", "8", "9", "10"],
    "CentOS": ["6", "7", "8"],
    "CentOS Stream": ["8", "9"],
    "Ubuntu": ["14.04", "16.04", "18.04", "20.04", "22.04", "24.04"],
    "Debian": ["8", "9", "10", "11", "12"],
    "SUSE Linux Enterprise Server": ["11", "12", "15"],
    "Oracle Linux": ["6", "7", "8", "9"],
    "AIX": ["7.1", "7.2", "7.3"],
    "Solaris": ["10", "11.4"],
    "SQL Server": ["2012", "2014", "2016", "2017", "2019", "2022"],
    "Oracle Database": ["11.2", "12.1", "19"],
    "PostgreSQL": ["11", "12", "13", "14", "15", "16"],
    "MySQL": ["5.7", "8.0"],
    "Java": ["8", "11", "17", "21"],
    ".NET": ["6", "8"],
    "Python": ["2.7", "3.8", "3.11"],
    "Node.js": ["16", "18", "20"],
}


def test_the_table_covers_the_required_versions_with_sources():
    table = load_eol_table()
    shipped = {(entry.product, entry.version) for entry in table.entries}
    missing = [(product, version) for product, versions in REQUIRED.items()
               for version in versions if (product, version) not in shipped]
    assert missing == []
    for entry in table.entries:
        assert entry.source and entry.source_url.startswith("https://"), entry
        assert entry.checked_on == date(2026, 11, 25)
        assert entry.release_date is not None
        if entry.end_of_support and entry.end_of_life:
            assert entry.release_date < entry.end_of_support <= entry.end_of_life, entry
    assert len(shipped) == len(table.entries)  # no product version twice


def test_the_table_file_is_the_shipped_csv():
    assert EOL_TABLE_PATH.name == "end_of_life.csv"
    assert len(read_eol_table(EOL_TABLE_PATH).entries) == len(load_eol_table().entries)


def verdict(os_name=None, os_version=None, today=TODAY, **extra):
    record = {"key": "x", **({"os_name": os_name} if os_name else {}),
              **({"os_version": os_version} if os_version else {}), **extra}
    return assess_tech_debt([record], today).per_asset["x"]


@pytest.mark.parametrize("os_name, os_version, product, version", [
    ("Microsoft Windows Server 2012 R2 Standard", None, "Windows Server", "2012 R2"),
    ("Windows Server 2012R2", None, "Windows Server", "2012 R2"),
    ("Windows Server", "2012r2", "Windows Server", "2012 R2"),
    ("Windows 2019 Datacenter", "10.0.17763", "Windows Server", "2019"),
    ("Microsoft Windows Server 2003 Standard (32-bit)", None, "Windows Server", "2003"),
    ("Microsoft Windows 10 (64-bit)", None, "Windows", "10"),
    ("Red Hat Enterprise Linux 8 (64-bit)", "8.6", "Red Hat Enterprise Linux", "8"),
    ("RHEL 7.9", None, "Red Hat Enterprise Linux", "7"),
    ("Red Hat Enterprise Linux", "10.0", "Red Hat Enterprise Linux", "10"),
    ("CentOS Linux 7.9.2009", None, "CentOS", "7"),
    ("CentOS Stream 9", None, "CentOS Stream", "9"),
    ("Ubuntu 22.04.3 LTS", None, "Ubuntu", "22.04"),
    ("Ubuntu", "18.04.6", "Ubuntu", "18.04"),
    ("Debian GNU/Linux 11 (bullseye)", None, "Debian", "11"),
    ("Debian", "9.13", "Debian", "9"),
    ("SLES 15 SP4", None, "SUSE Linux Enterprise Server", "15 SP4"),
    ("SUSE Linux Enterprise Server 15", None, "SUSE Linux Enterprise Server", "15"),
    ("SLES 11 SP3", None, "SUSE Linux Enterprise Server", "11"),
    ("Oracle Linux Server 7.9", None, "Oracle Linux", "7"),
    ("OEL 6", None, "Oracle Linux", "6"),
    ("IBM AIX", "7200-05-03-2148", "AIX", "7.2"),
    ("AIX 7.1", None, "AIX", "7.1"),
    ("AIX", "7.3.1", "AIX", "7.3"),
    ("Oracle Solaris 11.4", None, "Solaris", "11.4"),
    ("SunOS", "5.10", "Solaris", "10"),
    ("HP-UX", "B.11.31", "HP-UX", "11i v3"),
    ("z/OS", "V2R5", "z/OS", "2.5"),
    ("Amazon Linux 2 (64-bit)", None, "Amazon Linux", "2"),
    ("Rocky Linux 9.2 (Blue Onyx)", None, "Rocky Linux", "9"),
    ("AlmaLinux 8.10", None, "AlmaLinux", "8"),
])
def test_os_matching_per_family_with_tolerance(os_name, os_version, product, version):
    found = verdict(os_name, os_version)
    assert (found["product"], found["version"]) == (product, version)
    assert found["status"] in STATUSES[:4]
    assert found["source"]["url"].startswith("https://")


def test_a_bare_major_matching_several_rows_takes_the_earliest_end_and_says_so():
    found = verdict("Oracle Solaris 11 (64-bit)")
    assert (found["product"], found["version"]) == ("Solaris", "11.3")
    assert "version ambiguous (11.3, 11.4): the earliest to end was taken" in found["reasons"]


@pytest.mark.parametrize("os_name, os_version, reason", [
    ("FreeBSD 13", None, "no end-of-life entry for FreeBSD 13"),
    ("Ubuntu", "21.10", "no end-of-life entry for Ubuntu 21.10"),
    ("Ubuntu Linux (64-bit)", None, "Ubuntu: version not recorded"),
    (None, None, "no OS recorded"),
])
def test_unknown_os_says_why(os_name, os_version, reason):
    found = verdict(os_name, os_version)
    assert found["status"] == "unknown" and found["score"] is None
    assert found["reasons"] == [reason]


@pytest.mark.parametrize("today, status, score", [
    # Windows Server 2016: standard support ended 2022-01-11, extended ends 2027-01-12
    (date(2026, 1, 11), "extended_support_only", 56),   # 4 years past standard support
    (date(2026, 1, 12), "soon_unsupported", 60),        # exactly 12 months before the end
    (date(2026, 12, 12), "soon_unsupported", 87),
    (date(2027, 1, 12), "soon_unsupported", 89),        # the last day of support
    (date(2027, 1, 13), "unsupported", 90),
    (date(2031, 1, 13), "unsupported", 98),
    (date(2035, 1, 13), "unsupported", 100),
])
def test_status_boundaries_around_today(today, status, score):
    found = verdict("Windows Server", "2016", today=today)
    assert (found["status"], found["score"]) == (status, score)
    assert found["end_of_support"] == "2022-01-11" and found["end_of_life"] == "2027-01-12"


def test_supported_until_the_day_standard_support_ends():
    # Windows Server 2019: released 2018-11-13, standard support ended 2024-01-09
    on_the_day = verdict("Windows Server", "2019", today=date(2024, 1, 9))
    assert on_the_day["status"] == "supported"
    assert on_the_day["score"] == 15 + 10   # 5.2 years x 3, +10: standard support ending
    day_after = verdict("Windows Server", "2019", today=date(2024, 1, 10))
    assert (day_after["status"], day_after["score"]) == ("extended_support_only", 40)


def test_no_announced_end_is_supported():
    entry = next(e for e in load_eol_table().entries
                 if (e.product, e.version) == ("AIX", "7.3"))
    status, score, reason = judge(entry, TODAY)
    assert status == "supported" and 0 <= score <= 39
    assert reason == "AIX 7.3: supported, no end of support announced"


@pytest.mark.parametrize("text, expected", [
    ("Microsoft SQL Server 2016 SP3", ("SQL Server", "2016")),
    ("SQL Server 15.0.2000.5", ("SQL Server", "2019")),
    ("MSSQL 2008 R2", ("SQL Server", "2008 R2")),
    ("Oracle 19c", ("Oracle Database", "19")),
    ("Oracle 11gR2", ("Oracle Database", "11.2")),
    ("Oracle Database 12c Release 1", ("Oracle Database", "12.1")),
    ("PostgreSQL 13.4", ("PostgreSQL", "13.4")),
    ("MySQL 8.0.35", ("MySQL", "8.0.35")),
    ("java 1.8.0_292", ("Java", "8")),
    ("OpenJDK 11.0.2", ("Java", "11.0.2")),
    (".NET Core 3.1", (".NET", "3.1")),
    (".NET Framework 4.8", (".NET Framework", "4.8")),
    ("Python 3.9.7", ("Python", "3.9.7")),
    ("Node.js v18.17.0", ("Node.js", "18.17.0")),
    ("Tomcat 9", None),
])
def test_parse_software(text, expected):
    assert parse_software(text) == expected


def test_software_columns_are_found_at_top_level_and_in_extra():
    record = {"name": "db01", "database": "PostgreSQL",
              "_extra": {"DB Version": "13.4", "Database Name": "PAYDB01",
                         "Java Version": "1.8", "Owner": "x"}}
    assert software_mentions(record) == [("database", "PostgreSQL 13.4"),
                                         ("runtime", "java 1.8")]


def test_the_worst_component_decides_and_every_reason_is_kept():
    found = verdict("Red Hat Enterprise Linux", "8.6",
                    _extra={"Database": "PostgreSQL", "DB Version": "13",
                            "Runtime": "Node.js 22"})
    assert (found["status"], found["product"], found["version"]) == \
        ("unsupported", "PostgreSQL", "13")
    assert found["score"] == 92
    assert found["reasons"] == [
        "Red Hat Enterprise Linux 8: supported, standard support until 2029-05-31",
        "PostgreSQL 13: support ended 2025-11-13",
        "Node.js 22: support ends 2027-04-30"]
    assert [c["kind"] for c in found["components"]] == ["OS", "database", "runtime"]


def test_summary_and_worst_products():
    assets = [
        {"key": "a", "os_name": "Windows Server 2008 R2"},
        {"key": "b", "os_name": "Windows Server 2008 R2"},
        {"key": "c", "os_name": "Windows Server", "os_version": "2016"},
        {"key": "d", "os_name": "Ubuntu 24.04"},
        {"name": "  Legacy  Box ", "os_name": "FreeBSD 13"},
    ]
    result = assess_tech_debt(assets, TODAY)
    assert set(result.per_asset) == {"a", "b", "c", "d", "legacy box"}
    assert result.summary["by_status"] == {"unsupported": 2, "soon_unsupported": 1,
                                           "extended_support_only": 0, "supported": 1,
                                           "unknown": 1}
    assert result.worst_products[:2] == [
        {"product": "Windows Server", "version": "2008 R2", "status": "unsupported",
         "assets": 2, "end_of_life": "2020-01-14"},
        {"product": "Windows Server", "version": "2016", "status": "soon_unsupported",
         "assets": 1, "end_of_life": "2027-01-12"}]
    scores = [result.per_asset[k]["score"] for k in "abcd"]
    assert result.summary["average_score"] == round(sum(scores) / 4, 1)
