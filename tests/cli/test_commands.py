"""The `bayaffairs` command, run as operators run it: a subprocess on the test database.

Every test requests `pg`, so the tables are empty when it starts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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

DEMO_ADMIN_TOKEN = re.compile(r"\bbya\.crd_demo_admin_[0-9A-Z]+\.[A-Za-z0-9_-]+")


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


async def test_seed_demo_prints_random_tokens_once_and_a_rerun_names_them_and_how_to_reissue(
    cli: Cli, pg: asyncpg.Connection, api: Api
) -> None:
    first = await cli("seed", "--demo", "--quiet")
    rows_after_first = await pg.fetchval("SELECT count(*) FROM credentials")
    second = await cli("seed", "--demo", "--quiet")

    assert (first.status, second.status) == (0, 0), (first, second)
    [token] = DEMO_ADMIN_TOKEN.findall(first.stdout)
    assert DEMO_ADMIN_TOKEN.findall(second.stdout) == []
    admin_id = token.split(".")[1]
    assert admin_id in second.stdout
    assert "seed --demo --reissue" in second.stdout
    assert await pg.fetchval("SELECT count(*) FROM credentials") == rows_after_first
    status, body = await api.as_(token).get("/v1/auth/whoami")  # the first token still works
    assert (status, body["credential_id"]) == (200, admin_id)


async def test_demo_tokens_are_random_per_database_and_not_derived_from_the_repository(
    cli: Cli, pg: asyncpg.Connection, config: Config
) -> None:
    first = await cli("seed", "--demo", "--quiet")
    await pg.execute("DELETE FROM credentials")  # as a new database would be
    second = await cli("seed", "--demo", "--quiet")

    [one], [two] = DEMO_ADMIN_TOKEN.findall(first.stdout), DEMO_ADMIN_TOKEN.findall(second.stdout)
    assert one != two and secret_of(one) != secret_of(two)
    # What the repository alone gave before: an HMAC under the committed documents key.
    key = config.settings.secrets.documents_keys[0][1]
    for credential_id in (one.split(".")[1], "crd_demo_admin"):
        digest = hmac.new(
            key, f"bayaffairs demo credential {credential_id}".encode(), hashlib.sha256
        ).digest()
        assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() not in (secret_of(one), secret_of(two))


async def test_seed_revokes_a_demo_credential_an_older_version_derived_from_the_repository(
    cli: Cli, pg: asyncpg.Connection
) -> None:
    await pg.execute(
        "INSERT INTO credentials (id, kind, scope, secret_hash, label, created_at, expires_at)"
        " VALUES ('crd_demo_admin', 'admin', 'all', '\\x00', 'demo', now(), now() + interval '1 day')"
    )

    result = await cli("seed", "--demo", "--quiet")

    assert result.status == 0, result
    assert await pg.fetchval("SELECT revoked_at IS NOT NULL FROM credentials WHERE id = 'crd_demo_admin'")
    assert "revoked crd_demo_admin" in result.stdout


async def test_seed_reissue_replaces_the_demo_tokens_and_the_old_ones_stop_working(
    cli: Cli, pg: asyncpg.Connection, api: Api, clock: MovableClock, config: Config
) -> None:
    first = await cli("seed", "--demo", "--quiet")
    reissued = await cli("seed", "--demo", "--quiet", "--reissue")

    assert (first.status, reissued.status) == (0, 0), reissued
    [old], [new] = DEMO_ADMIN_TOKEN.findall(first.stdout), DEMO_ADMIN_TOKEN.findall(reissued.stdout)
    assert old != new
    clock.advance(seconds=config.settings.auth.cache_seconds + 1)
    assert (await api.as_(new).get("/v1/auth/whoami"))[0] == 200
    status, body = await api.as_(old).get("/v1/auth/whoami")
    assert (status, body["error"]["code"]) == (401, "token_revoked")


async def test_credentials_list_demo_shows_the_demo_ids_and_how_to_reissue_never_a_token(
    cli: Cli, pg: asyncpg.Connection
) -> None:
    seeded = await cli("seed", "--demo", "--quiet")
    other = await issue(cli, "admin", "all", "--label", "demo")  # labels do not make a demo credential

    listed = await cli("credentials", "list", "--demo")

    assert listed.status == 0, listed
    tokens = re.findall(r"\bbya\.(crd_demo_[a-z]+_[0-9A-Z]+)\.([A-Za-z0-9_-]+)", seeded.stdout)
    assert {kind for kind in ("admin", "gate", "operator", "carrier", "counter")} == {
        credential_id.split("_")[2] for credential_id, _ in tokens
    }
    for credential_id, secret in tokens:
        assert credential_id in listed.stdout
        assert secret not in listed.stdout + listed.stderr
    assert other["id"] not in listed.stdout
    assert "seed --demo --reissue" in listed.stdout


async def test_demo_tokens_live_no_longer_than_their_kinds_limit(
    cli: Cli, pg: asyncpg.Connection, config: Config
) -> None:
    assert (await cli("seed", "--demo", "--quiet")).status == 0

    rows = await pg.fetch(
        "SELECT kind, expires_at - created_at AS ttl FROM credentials WHERE id LIKE 'crd_demo_%'"
    )

    assert rows
    for row in rows:
        assert row["ttl"] <= timedelta(days=config.settings.auth.token_ttl_days[row["kind"]]), row


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


DEMO_COUNTER_TOKEN = re.compile(r"\bbya\.crd_demo_counter_[0-9A-Z]+\.[A-Za-z0-9_-]+")
DEMO_DAY = re.compile(r"demo appointments at hengqin_gasc on (\d{4}-\d{2}-\d{2}) \(([^)]*)\): (\d+) new")
HENGQIN = ZoneInfo("Asia/Shanghai")


async def seed_at(cli: Cli, at: datetime) -> tuple[str, date, str, int]:
    result = await cli("seed", "--demo", "--quiet", "--at", at.isoformat())
    assert result.status == 0, result.stderr
    [(day, which, new)] = DEMO_DAY.findall(result.stdout)
    return result.stdout, date.fromisoformat(day), which, int(new)


async def test_seeded_demo_appointments_are_today_during_opening_hours_and_can_be_checked_in_at_once(
    cli: Cli, pg: asyncpg.Connection, api: Api, clock: MovableClock
) -> None:
    stdout, day, which, new = await seed_at(cli, clock.now())
    again = await seed_at(cli, clock.now())

    today = clock.now().astimezone(HENGQIN).date()
    assert (day, new) == (today, 5)
    assert "today" in which
    assert again[1:] == (today, again[2], 0)  # a second run adds nothing
    rows = await pg.fetch("SELECT id, user_id, local_date, status, starts_at FROM appointments")
    assert {(r["user_id"], r["local_date"], r["status"]) for r in rows} == {
        ("usr_demo_rider", today, "booked")
    }
    assert len(rows) == 5
    assert all(r["starts_at"] > clock.now() for r in rows)  # still ahead, within opening hours
    [token] = DEMO_COUNTER_TOKEN.findall(stdout)
    counter = api.as_(token)
    status, listing = await counter.get(f"/v1/counter/appointments?date={today.isoformat()}")
    assert status == 200 and len(listing["items"]) == 5, listing
    # For the rider and two family members, two each at most (Macao's quota per person and day);
    # Hengqin's data stays in Macao: the counter sees none of the names.
    names = await pg.fetch("SELECT holder_name FROM appointments")
    assert {r["holder_name"] for r in names} == {"CHAN Tai Man", "CHAN Siu Ming", "WONG Mei Ling"}
    assert {(i["holder_name"], i["number_masked"]) for i in listing["items"]} == {(None, None)}
    assert len({i["service_id"] for i in listing["items"]}) == 5
    first = min(listing["items"], key=lambda i: i["start"])
    # The person shows the booking's QR (from the demo rider's app) at the desk.
    status, mine = await (await api.sign_in("demo-rider")).get(f"/v1/appointments/{first['id']}")
    assert status == 200, mine
    status, checked = await counter.post("/v1/counter/check-ins", {"payload": mine["qr"]["payload"]})
    assert status == 200, checked  # not `not_today`
    assert checked["queue_number"] >= 1


async def test_seeded_demo_appointments_go_to_the_next_working_day_after_closing_and_say_so(
    cli: Cli, pg: asyncpg.Connection
) -> None:
    saturday = next_weekday(START.date(), "sat")  # open 09:00-12:00; Sunday closed

    _, day, which, new = await seed_at(cli, datetime.combine(saturday, time(13), HENGQIN))

    assert day == saturday + timedelta(days=2)  # Monday, not Sunday
    assert "next working day" in which
    assert new == 5


async def test_migrate_applies_a_function_file_the_database_has_not_run(
    cli: Cli, pg: asyncpg.Connection
) -> None:
    await pg.execute("UPDATE schema_functions SET checksum = 'older' WHERE name = 'record_scans'")

    result = await cli("migrate", "--quiet")

    assert result.status == 0, result
    assert "applied 1 function file(s)" in result.stdout and "record_scans" in result.stdout
    assert await pg.fetchval("SELECT checksum FROM schema_functions WHERE name = 'record_scans'") != "older"
