"""The `bayaffairs` command, run as operators run it: a subprocess on the test database.

Every test requests `pg`, so the tables are empty when it starts.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from bayaffairs.config import Config
from bayaffairs.db.migrate import discover
from tests.cli.conftest import Cli
from tests.support import START, Api, MovableClock, next_weekday

DEMO_ADMIN_TOKEN = re.compile(r"\bbya\.crd_demo_admin\.[A-Za-z0-9_-]+")


async def issue(cli: Cli, *args: str) -> dict[str, Any]:
    result = await cli("credentials", "issue", *args, "--json")
    assert result.status == 0, result
    return json.loads(result.stdout)


def secret_of(token: str) -> str:
    return token.split(".", 2)[2]


async def credential_rows(pg: asyncpg.Connection) -> list[str]:
    return [r[0] for r in await pg.fetch("SELECT row_to_json(c)::text FROM credentials c")]


# migrate


async def test_migrate_on_a_migrated_database_says_it_is_up_to_date(cli: Cli, pg: asyncpg.Connection) -> None:
    before = await pg.fetch("SELECT version, applied_at FROM schema_migrations ORDER BY version")

    result = await cli("migrate", "--quiet")

    assert result.status == 0, result
    assert f"is up to date (version {discover()[-1].version:04d})" in result.stdout
    assert await pg.fetch("SELECT version, applied_at FROM schema_migrations ORDER BY version") == before


# credentials issue


async def test_issue_prints_id_token_kind_and_scope_and_stores_only_a_hash(
    cli: Cli, pg: asyncpg.Connection
) -> None:
    issued = await issue(cli, "admin", "all")

    assert (issued["kind"], issued["scope"]) == ("admin", "all")
    assert issued["token"].startswith(f"bya.{issued['id']}.")
    secret = secret_of(issued["token"])
    rows = await credential_rows(pg)
    assert len(rows) == 1
    assert secret not in rows[0]
    assert secret.encode().hex() not in rows[0]
    stored = await pg.fetchval("SELECT secret_hash FROM credentials WHERE id = $1", issued["id"])
    assert stored == hashlib.sha256(secret.encode()).digest()


async def test_issue_for_an_unknown_operator_fails_naming_the_scope(cli: Cli, pg: asyncpg.Connection) -> None:
    result = await cli("credentials", "issue", "gate", "unknown_operator")

    assert result.status != 0
    assert "scope" in result.stderr
    assert "unknown_operator" in result.stderr
    assert await pg.fetchval("SELECT count(*) FROM credentials") == 0


async def test_issue_admin_for_a_scope_other_than_all_fails(cli: Cli, pg: asyncpg.Connection) -> None:
    result = await cli("credentials", "issue", "admin", "wrongscope")

    assert result.status != 0
    assert "scope" in result.stderr
    assert await pg.fetchval("SELECT count(*) FROM credentials") == 0


# credentials list and revoke


async def test_list_shows_the_issued_credential_and_never_a_token(cli: Cli, pg: asyncpg.Connection) -> None:
    issued = await issue(cli, "admin", "all")

    result = await cli("credentials", "list")

    assert result.status == 0, result
    line = next(line for line in result.stdout.splitlines() if issued["id"] in line)
    assert line.split()[:3] == [issued["id"], "admin", "all"]
    assert "active" in line
    assert secret_of(issued["token"]) not in result.stdout + result.stderr


async def test_a_gate_token_is_bound_to_one_gate_or_listed_as_operator_wide(
    cli: Cli, pg: asyncpg.Connection
) -> None:
    bound = await issue(cli, "gate", "mtr", "--gate", "central-e3", "--stations", "central,admiralty")
    wide = await issue(cli, "gate", "mtr")

    assert (bound["gate_id"], bound["stations"]) == ("central-e3", ["admiralty", "central"])
    assert (wide["gate_id"], wide["stations"]) == (None, None)
    lines = (await cli("credentials", "list")).stdout.splitlines()
    assert "gate central-e3 at admiralty,central" in next(line for line in lines if bound["id"] in line)
    assert "OPERATOR-WIDE" in next(line for line in lines if wide["id"] in line)
    listed = {c["id"]: c for c in json.loads((await cli("credentials", "list", "--json")).stdout)}
    assert (listed[bound["id"]]["operator_wide"], listed[wide["id"]]["operator_wide"]) == (False, True)
    refused = await cli("credentials", "issue", "gate", "mtr", "--stations", "central")
    assert refused.status == 2 and "gate" in refused.stderr
    refused = await cli("credentials", "issue", "gate", "mtr", "--gate", "g1", "--stations", "futian")
    assert refused.status == 2 and "futian" in refused.stderr


async def test_revoked_token_is_refused_by_the_app(
    cli: Cli, pg: asyncpg.Connection, api: Api, clock: MovableClock, config: Config
) -> None:
    issued = await issue(cli, "admin", "all")
    status, body = await api.as_(issued["token"]).get("/v1/auth/whoami")
    assert (status, body["credential_id"]) == (200, issued["id"])

    result = await cli("credentials", "revoke", issued["id"])
    # The app trusts a verified token for cache_seconds, as another worker would.
    clock.advance(seconds=config.settings.auth.cache_seconds + 1)
    status, body = await api.as_(issued["token"]).get("/v1/auth/whoami")

    assert result.status == 0, result
    assert issued["id"] in result.stdout
    assert (status, body["error"]["code"]) == (401, "token_revoked")


# seed


async def test_seed_demo_twice_prints_the_same_admin_token_and_keeps_one_row(
    cli: Cli, pg: asyncpg.Connection
) -> None:
    first = await cli("seed", "--demo", "--quiet")
    rows_after_first = await pg.fetchval("SELECT count(*) FROM credentials")
    second = await cli("seed", "--demo", "--quiet")

    assert (first.status, second.status) == (0, 0), (first, second)
    tokens = [DEMO_ADMIN_TOKEN.findall(r.stdout) for r in (first, second)]
    assert len(tokens[0]) == 1
    assert tokens[0] == tokens[1]
    assert await pg.fetchval("SELECT count(*) FROM credentials") == rows_after_first
    assert await pg.fetchval("SELECT count(*) FROM credentials WHERE id = 'crd_demo_admin'") == 1


async def test_seeded_admin_token_is_accepted_by_the_app(cli: Cli, pg: asyncpg.Connection, api: Api) -> None:
    result = await cli("seed", "--demo", "--quiet")
    assert result.status == 0, result
    (token,) = DEMO_ADMIN_TOKEN.findall(result.stdout)

    status, body = await api.as_(token).get("/v1/auth/whoami")

    assert status == 200, body
    assert (body["credential_id"], body["kind"], body["scope"]) == ("crd_demo_admin", "admin", "all")


async def test_seed_without_demo_fails_with_status_2(cli: Cli, pg: asyncpg.Connection) -> None:
    result = await cli("seed")

    assert result.status == 2
    assert "--demo" in result.stderr
    assert await pg.fetchval("SELECT count(*) FROM credentials") == 0


# check-config


async def test_check_config_passes_on_the_shipped_config(cli: Cli, config: Config) -> None:
    result = await cli("check-config")

    assert result.status == 0, result
    assert result.stdout.splitlines()[-1] == "ok"
    assert f"{len(config.jurisdictions)} jurisdictions, {len(config.cities)} cities" in result.stdout


async def test_keys_rotate_stages_a_key_and_now_switches_at_once(cli: Cli, pg: asyncpg.Connection) -> None:
    first = await cli("keys", "rotate", "ride_codes")
    second = await cli("keys", "rotate", "ride_codes")
    assert (first.status, second.status) == (0, 0), first.stderr + second.stderr
    assert "ride_codes-1 now signs" in first.stdout
    assert "ride_codes-2 is published now and signs from" in second.stdout
    listing = await cli("keys", "list")
    rows = {line.split()[0]: line.split()[-1] for line in listing.stdout.splitlines()[1:]}
    assert rows == {"ride_codes-1": "signing", "ride_codes-2": "staged"}
    third = await cli("keys", "rotate", "ride_codes", "--now")
    assert third.status == 0 and "ride_codes-3 now signs" in third.stdout
    listing = await cli("keys", "list")
    rows = {line.split()[0]: line.split()[-1] for line in listing.stdout.splitlines()[1:]}
    assert rows == {"ride_codes-1": "retired", "ride_codes-2": "withdrawn", "ride_codes-3": "signing"}


async def test_a_compromised_key_is_listed_as_compromised_and_denied_to_gates(
    cli: Cli, pg: asyncpg.Connection
) -> None:
    assert (await cli("keys", "rotate", "ride_codes")).status == 0
    result = await cli("keys", "compromised", "ride_codes-1")
    assert result.status == 0, result.stderr
    listing = await cli("keys", "list")
    rows = {line.split()[0]: line.split()[-1] for line in listing.stdout.splitlines()[1:]}
    assert rows == {"ride_codes-1": "compromised"}  # not "retired": one word, as gates answer
    entries = await pg.fetch("SELECT kind, value, action FROM deny_list")
    assert [tuple(e) for e in entries] == [("key", "ride_codes-1", "add")]


async def test_keys_rotate_refuses_an_unknown_issuer(cli: Cli, pg: asyncpg.Connection) -> None:
    result = await cli("keys", "rotate", "lottery")
    assert result.status == 2
    assert "lottery" in result.stderr and "unknown issuer" in result.stderr
    assert await pg.fetchval("SELECT count(*) FROM issuer_keys") == 0


async def test_seeded_demo_lets_a_demo_rider_get_a_ride_code_at_once(
    cli: Cli, pg: asyncpg.Connection, api: Api
) -> None:
    for _ in range(2):  # idempotent
        result = await cli("seed", "--demo", "--quiet")
        assert result.status == 0, result.stderr
    assert "shenzhen_metro" in result.stdout
    assert await pg.fetchval("SELECT count(*) FROM issuer_keys WHERE retired_at IS NULL") == 3
    rider = await api.sign_in("demo-rider")
    me = (await rider.get("/v1/me"))[1]
    assert me["wallet"] == {"currency": "HKD", "provider": "demo"}
    status, body = await rider.post("/v1/ride-codes", {"city": "shenzhen"})
    assert status == 201, body


DEMO_COUNTER_TOKEN = re.compile(r"\bbya\.crd_demo_counter\.[A-Za-z0-9_-]+")
DEMO_DAY = re.compile(r"demo appointments at hengqin_gasc on (\d{4}-\d{2}-\d{2}) \((\d+) new\)")


async def test_seeded_demo_gives_a_counter_the_demo_riders_appointments_of_tomorrow_once(
    cli: Cli, pg: asyncpg.Connection, api: Api
) -> None:
    saturday = next_weekday(START.date(), "sat")
    at = datetime.combine(saturday, time(10), ZoneInfo("Asia/Shanghai")).isoformat()
    first = await cli("seed", "--demo", "--quiet", "--at", at)
    second = await cli("seed", "--demo", "--quiet", "--at", at)
    assert (first.status, second.status) == (0, 0), (first.stderr, second.stderr)
    [(day, new)] = DEMO_DAY.findall(first.stdout)
    assert DEMO_DAY.findall(second.stdout) == [(day, "0")]
    assert int(new) == 5
    shown = date.fromisoformat(day)
    assert shown == saturday + timedelta(days=2)  # the next opening day: Monday, not Sunday
    rows = await pg.fetch("SELECT user_id, centre_id, local_date, status FROM appointments")
    assert [tuple(r) for r in rows] == [("usr_demo_rider", "hengqin_gasc", shown, "booked")] * 5
    [token] = DEMO_COUNTER_TOKEN.findall(second.stdout)
    status, listing = await api.as_(token).get(f"/v1/counter/appointments?date={day}")
    assert status == 200, listing
    assert len(listing["items"]) == 5
    # For the rider and two family members, two each at most (Macao's quota per person and day).
    assert {i["holder_name"] for i in listing["items"]} == {"CHAN Tai Man", "CHAN Siu Ming", "WONG Mei Ling"}
    assert len({i["service_id"] for i in listing["items"]}) == 5
