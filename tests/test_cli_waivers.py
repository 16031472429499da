"""`prodsprint waive`, `waivers list` and `waivers revoke`: exceptions with a reason, a ticket
and an expiry, which stop applying on their own."""

import json
import time
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from prodsprint_dagster.cli import main


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def waive(*extra: str, expires: str = "+30d"):
    args = ["--reason", "no exploit path", "--ticket", "SEC-12", "--owner", "alice"]
    return cli("waive", "team__shop", "--gate", "vulnerabilities", *args, "--expires", expires,
               *extra, "--json")  # fmt: skip


def test_waive_lists_expires_and_revokes(project):
    assert cli("init").exit_code == 0
    added = waive("--finding", "CVE-2020-14343")
    assert added.exit_code == 0, added.output
    doc = json.loads(added.stdout)["waiver"]
    assert (doc["gate"], doc["finding"], doc["ticket"], doc["owner"]) == (
        "vulnerabilities", "CVE-2020-14343", "SEC-12", "alice"
    )  # fmt: skip
    assert doc["expired"] is False and doc["revoked"] is False

    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    short = json.loads(waive(expires=soon).stdout)["waiver"]
    time.sleep(1.2)
    listed = {w["id"]: w for w in json.loads(cli("waivers", "list", "--json").stdout)["waivers"]}
    assert listed[doc["id"]]["expired"] is False
    assert listed[short["id"]]["expired"] is True  # stops applying on its own, stays on record

    revoked = cli("waivers", "revoke", doc["id"], "--reason", "fixed in 5.4", "--json")
    assert json.loads(revoked.stdout)["waiver"]["revoked"] is True
    actions = [r["action"] for r in json.loads(cli("audit-log", "--json").stdout)["rows"]]
    assert actions.count("waiver.add") == 2 and actions.count("waiver.revoke") == 1


def test_waivers_that_never_expire_or_lack_a_gate_are_refused(project):
    assert cli("init").exit_code == 0
    past = waive(expires="2020-01-01")
    assert past.exit_code == 1 and "expiry in the future" in json.loads(past.stdout)["error"]
    bad_date = waive(expires="next week")
    assert (
        bad_date.exit_code == 1 and "--expires 'next week'" in json.loads(bad_date.stdout)["error"]
    )
    bad_gate = cli("waive", "team__shop", "--gate", "vibes", "--reason", "r", "--ticket", "T-1",
                   "--expires", "+1d", "--json")  # fmt: skip
    assert (
        bad_gate.exit_code == 1 and "'vibes' is not one of" in json.loads(bad_gate.stdout)["error"]
    )
    assert json.loads(cli("waivers", "list", "--json").stdout)["waivers"] == []
