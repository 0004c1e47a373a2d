"""`bayaffairs retention [--dry-run]`: the retention table applied now, or only reported."""

from __future__ import annotations

import json

import asyncpg

from tests.cli.conftest import Cli


async def test_a_dry_run_reports_what_is_due_per_kind_and_changes_nothing_then_a_run_applies_it(
    cli: Cli, pg: asyncpg.Connection
) -> None:
    # A document that expired in 2001 is past any retention, whatever day the test runs.
    await pg.execute("INSERT INTO users (id) VALUES ('usr_old')")
    await pg.execute(
        """
        INSERT INTO documents (id, user_id, type, holder_name, number_ciphertext, number_fingerprint,
            number_masked, issuing, expires)
        VALUES ('doc_old', 'usr_old', 'hkid', 'Old', '\\x00', '\\x01', 'A***', 'HK', '2001-01-01')
        """
    )

    result = await cli("retention", "--dry-run", "--json")

    assert result.status == 0, result
    report = json.loads(result.stdout)
    assert report["dry_run"] is True
    kinds = {k["kind"]: k for k in report["kinds"]}
    assert set(kinds) >= {"documents", "bookings", "appointments", "journeys", "payments", "data_transfers"}
    assert (kinds["documents"]["action"], kinds["documents"]["count"], report["total"]) == ("delete", 1, 1)
    assert kinds["payments"]["keep_days"] == 2557
    assert await pg.fetchval("SELECT count(*) FROM documents") == 1

    text = await cli("retention", "--dry-run")
    assert text.status == 0 and "documents" in text.stdout and "dry run" in text.stdout

    done = await cli("retention", "--json")
    assert done.status == 0, done
    assert json.loads(done.stdout)["total"] == 1
    assert await pg.fetchval("SELECT count(*) FROM documents") == 0
