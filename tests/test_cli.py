"""The `portal` command-line contract, run as a real subprocess."""
from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

from tests.conftest import _conninfo


@pytest.fixture(scope="module")
def cli_env(create_database, tmp_path_factory):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env["DATABASE_URL"] = create_database()
    env["PORTAL_INSTANCE_PATH"] = str(tmp_path_factory.mktemp("cli-instance"))
    return env


def portal(env, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "portal", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_the_documented_commands_work_in_order(cli_env):
    steps = [
        (["db", "upgrade"], None, "database at revision"),
        (["db", "upgrade"], None, "database at revision"),  # idempotent
        (["users", "create", "ops@example.com", "--admin", "--password-stdin"],
         "a-long-enough-password\n", "as platform admin"),
        (["users", "create", "client@example.com", "--password-stdin"],
         "another-long-password\n", "created user client@example.com"),
        (["accounts", "create", "Fabrikam Inc", "--slug", "fabrikam"], None,
         "created account fabrikam"),
        (["accounts", "add-member", "fabrikam", "client@example.com", "--role", "viewer"],
         None, "is now viewer of fabrikam"),
        (["engagements", "create", "fabrikam", "Wave 1", "--slug", "wave-1"], None,
         "created engagement fabrikam/wave-1"),
        (["demo"], None, "Demo logins:"),
    ]
    for args, stdin, expected in steps:
        result = portal(cli_env, *args, stdin=stdin)
        assert result.returncode == 0, (args, result.stderr)
        assert expected in result.stdout, (args, result.stdout)
    with psycopg.connect(_conninfo(cli_env["DATABASE_URL"])) as conn:
        role = conn.execute(
            "SELECT m.role FROM user_account_associations m "
            "JOIN client_accounts a ON a.id = m.client_account_id WHERE a.slug = 'fabrikam'"
        ).fetchone()
        assert role == ("viewer",)
        assert conn.execute("SELECT count(*) FROM engagements WHERE slug = 'wave-1'"
                            ).fetchone() == (1,)


@pytest.mark.parametrize("args, stdin, message", [
    (["accounts", "create", "Bad", "--slug", "Not A Slug"], None, "invalid slug"),
    (["accounts", "add-member", "missing-account", "x@example.com", "--role", "member"],
     None, "no client account with slug 'missing-account'"),
    (["users", "create", "short@example.com", "--password-stdin"], "short\n",
     "at least 12 characters"),
    (["users", "create", "not-an-email", "--password-stdin"], "long-enough-password\n",
     "invalid email"),
    (["engagements", "create", "nowhere", "X", "--slug", "x"], None, "no client account"),
])
def test_errors_exit_non_zero_with_one_clear_line(cli_env, args, stdin, message):
    assert portal(cli_env, "db", "upgrade").returncode == 0
    result = portal(cli_env, *args, stdin=stdin)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


def test_unreachable_database_is_one_line(cli_env):
    env = cli_env | {"DATABASE_URL": "postgresql://portal_app@127.0.0.1:1/nowhere"}
    result = portal(env, "accounts", "create", "X", "--slug", "x")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the database")


def test_downgrade_and_upgrade_again(cli_env, create_database):
    env = cli_env | {"DATABASE_URL": create_database()}
    assert portal(env, "db", "upgrade").returncode == 0
    down = portal(env, "db", "downgrade", "base")
    assert down.returncode == 0, down.stderr
    assert portal(env, "db", "upgrade").returncode == 0


SAMPLES = os.path.join(os.path.dirname(__file__), "discovery", "samples")


def test_fields_suggest_prints_the_documented_json(cli_env):
    result = portal(cli_env, "fields", "suggest", os.path.join(SAMPLES, "rvtools_vinfo.csv"),
                    "--json")
    assert result.returncode == 0, result.stderr
    import json
    columns = json.loads(result.stdout)["columns"]
    assert all(set(c) == {"source", "target", "confidence", "unit"} for c in columns)
    by_source = {c["source"]: c for c in columns}
    assert by_source["VM"]["target"] == "name"
    assert (by_source["Memory"]["target"], by_source["Memory"]["unit"]) == ("memory_gb", "MiB")
    assert all(0 <= c["confidence"] <= 1 for c in columns)


def test_fields_suggest_with_an_account_records_the_run(cli_env):
    assert portal(cli_env, "db", "upgrade").returncode == 0
    portal(cli_env, "accounts", "create", "Mapper Co", "--slug", "mapper-co")
    result = portal(cli_env, "fields", "suggest", os.path.join(SAMPLES, "azure_migrate.csv"),
                    "--account", "mapper-co", "--json")
    assert result.returncode == 0, result.stderr
    with psycopg.connect(_conninfo(cli_env["DATABASE_URL"])) as conn:
        runs = conn.execute(
            "SELECT count(*) FROM agent_task_history h JOIN client_accounts a "
            "ON a.id = h.client_account_id WHERE a.slug = 'mapper-co' "
            "AND h.task_type = 'suggest_field_mappings'").fetchone()[0]
    assert runs == 1


def test_fields_suggest_refuses_a_bad_file_in_one_line(cli_env, tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"\x00\x01\x02" * 100)
    result = portal(cli_env, "fields", "suggest", str(junk), "--json")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: ")


def test_import_runs_discovery_to_the_end_and_prints_the_outcome(cli_env):
    assert portal(cli_env, "db", "upgrade").returncode == 0
    portal(cli_env, "accounts", "create", "Importer", "--slug", "importer")
    portal(cli_env, "engagements", "create", "importer", "Wave", "--slug", "wave")
    sample = os.path.join(SAMPLES, "rvtools_vinfo.csv")
    result = portal(cli_env, "import", sample, "--account", "importer", "--engagement", "wave",
                    "--json")
    assert result.returncode == 0, result.stderr
    import json
    outcome = json.loads(result.stdout)
    assert set(outcome) >= {"flow_id", "status", "rows", "valid_rows", "invalid_rows",
                            "assets_created", "assets_updated", "mapping",
                            "data_quality_score"}
    assert outcome["status"] == "completed" and outcome["assets_created"] == outcome["rows"]
    assert outcome["mapping"]["VM"] == "name"
    again = json.loads(portal(cli_env, "import", sample, "--account", "importer",
                              "--engagement", "wave", "--json").stdout)
    assert (again["assets_created"], again["assets_updated"]) == (0, 0)  # nothing changed


def test_import_into_a_missing_engagement_fails_in_one_line(cli_env):
    assert portal(cli_env, "db", "upgrade").returncode == 0
    result = portal(cli_env, "import", os.path.join(SAMPLES, "rvtools_vinfo.csv"),
                    "--account", "nope", "--engagement", "x", "--json")
    assert result.returncode == 1 and result.stderr.startswith("error: ")


def test_assess_runs_an_assessment_to_the_end_and_prints_the_outcome(cli_env):
    import json
    assert portal(cli_env, "db", "upgrade").returncode == 0
    portal(cli_env, "accounts", "create", "Assessor", "--slug", "assessor")
    portal(cli_env, "engagements", "create", "assessor", "Wave", "--slug", "wave")
    empty = portal(cli_env, "assess", "--account", "assessor", "--engagement", "wave", "--json")
    assert empty.returncode == 1 and json.loads(empty.stdout)["status"] == "failed"
    sample = os.path.join(SAMPLES, "rvtools_vinfo.csv")
    imported = json.loads(portal(cli_env, "import", sample, "--account", "assessor",
                                 "--engagement", "wave", "--json").stdout)
    result = portal(cli_env, "assess", "--account", "assessor", "--engagement", "wave", "--json")
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert set(outcome) == {"flow_id", "status", "assets_assessed", "distribution",
                            "mean_confidence"}
    assert outcome["status"] == "completed"
    assert outcome["assets_assessed"] == imported["assets_created"]
    assert sum(outcome["distribution"].values()) == outcome["assets_assessed"]
    assert 0 < outcome["mean_confidence"] <= 1
    missing = portal(cli_env, "assess", "--account", "assessor", "--engagement", "nope")
    assert missing.returncode == 1 and missing.stderr.startswith("error: ")
