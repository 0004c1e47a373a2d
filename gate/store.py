"""The durable memory of the gates of one station group: one SQLite file.

What a gate must not forget across a restart or a power cut lives here: the taps it has not
uploaded yet (the service charges nothing it never receives), the codes it has accepted (a code
opens once), where each rider last tapped (one entry per rider), and what it last synced (the
keys document with the operator's rules, the deny list and its cursor, and when each was
synced). The gates around one paid area open the same file, so a rider who entered through one
gate is inside for all of them, and a code one gate accepted is a replay at the next.

Durability: WAL journal with `synchronous=FULL`, so a decision's commit is on disk (the WAL
fsync-ed) before `validate` answers `open`. A `kill -9` or a power cut loses at most the decision
being made, whose barrier never opened. Several processes may share the file (SQLite's locks);
a decision is one IMMEDIATE transaction, so two gates deciding on the same code take turns and
only one of them opens. A sync is one transaction too: a crash leaves the old state or the new,
never a deny list ahead of its cursor.

Tap ids are `<gate id>:<store id>-<sequence>`: the sequence is SQLite's AUTOINCREMENT (never
reused, also after the rows are uploaded and deleted), the store id 32 random bits made with the
file, so a gate whose file is lost and made anew does not repeat an id the service already holds;
the gate id first, because the service holds a gate-bound credential to tap ids of its own gate
(a stolen gate cannot take the ids its neighbours will use next).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LAYOUT = 1  # PRAGMA user_version of the files this library makes and reads
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS denied (kind TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (kind, value));
CREATE TABLE IF NOT EXISTS seen (
    code BLOB NOT NULL, direction TEXT NOT NULL, until INTEGER NOT NULL,
    gate_id TEXT NOT NULL, at INTEGER NOT NULL, tap_id TEXT NOT NULL,
    PRIMARY KEY (code, direction)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS riders (
    account BLOB PRIMARY KEY, direction TEXT NOT NULL, at INTEGER NOT NULL, gate_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, gate_id TEXT NOT NULL, tap TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_gate ON queue (gate_id, seq);
"""


@dataclass(frozen=True)
class LastTap:
    """Where and when a rider last tapped at a gate of this group."""

    direction: str
    at: int
    gate_id: str


@dataclass(frozen=True)
class SeenCode:
    """A code a gate of this group opened for (in one direction): which gate, when, its tap."""

    gate_id: str
    at: int
    tap_id: str


@dataclass(frozen=True)
class SyncState:
    """What the gates decide with, as the last successful sync left it."""

    generation: int
    keys: dict[str, Any] | None
    keys_etag: str | None
    keys_synced_at: int | None
    deny_cursor: int
    deny_synced_at: int | None
    denied: frozenset[tuple[str, str]]


class Decision:
    """One gate's decision in progress, inside an IMMEDIATE transaction (see GateStore.deciding)."""

    def __init__(self, conn: sqlite3.Connection, store_id: str) -> None:
        self._conn = conn
        self._store_id = store_id

    def seen(self, code: bytes, direction: str) -> SeenCode | None:
        row = self._conn.execute(
            "SELECT gate_id, at, tap_id FROM seen WHERE code = ? AND direction = ?", (code, direction)
        ).fetchone()
        return SeenCode(*row) if row else None

    def remember(self, code: bytes, direction: str, until: int, seen: SeenCode) -> None:
        """Refuse this code in this direction until `until` (when no gate could accept it)."""
        self._conn.execute(
            "INSERT OR REPLACE INTO seen (code, direction, until, gate_id, at, tap_id)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (code, direction, until, seen.gate_id, seen.at, seen.tap_id),
        )

    def last_tap(self, account: bytes) -> LastTap | None:
        row = self._conn.execute(
            "SELECT direction, at, gate_id FROM riders WHERE account = ?", (account,)
        ).fetchone()
        return LastTap(*row) if row else None

    def set_last_tap(self, account: bytes, tap: LastTap) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO riders (account, direction, at, gate_id) VALUES (?, ?, ?, ?)",
            (account, tap.direction, tap.at, tap.gate_id),
        )

    def queue(self, gate_id: str, tap: dict[str, Any]) -> str:
        """Queue a tap for upload; returns its tap id."""
        cursor = self._conn.execute(
            "INSERT INTO queue (gate_id, tap) VALUES (?, ?)",
            (gate_id, json.dumps(tap, separators=(",", ":"))),
        )
        assert cursor.lastrowid is not None
        return tap_id(gate_id, self._store_id, cursor.lastrowid)

    def forget(self, now: int, riders_before: int) -> None:
        """Drop codes no gate could accept any more and riders' taps too old to matter (a scan:
        called every few hundred decisions, it costs less than an index on every write)."""
        self._conn.execute("DELETE FROM seen WHERE until <= ?", (now,))
        self._conn.execute("DELETE FROM riders WHERE at < ?", (riders_before,))


class GateStore:
    """One station group's memory on disk; `durable=False` skips the fsyncs (benchmarks only:
    then a power cut may lose the last decisions, though a killed process still loses none)."""

    def __init__(self, path: Path | str, *, durable: bool = True, timeout: float = 30.0) -> None:
        self.path = Path(path)
        # One store object per gate (thread or process); made in one thread, used in another.
        self._conn = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        # Small pages: a decision writes a few rows to a few pages, each page whole to the WAL.
        self._conn.execute("PRAGMA page_size=1024")  # a new file only (before WAL is on)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
        with self._transaction() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            made = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'meta'").fetchone()[0]
            if version != LAYOUT or not made:
                if made:  # a layout of another version of this library: never guess at it
                    raise ValueError(f"{self.path}: gate store layout {version}, this library reads {LAYOUT}")
                conn.execute(f"PRAGMA user_version = {LAYOUT}")
            for statement in _statements(_SCHEMA):  # not executescript(): it would commit halfway
                conn.execute(statement)
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', ?), ('generation', '0')",
                (secrets.token_hex(4),),
            )
        self.store_id = self._meta("store_id") or ""

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE (the write lock at once, so two deciders never both read then write)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    @contextmanager
    def deciding(self) -> Iterator[Decision]:
        """One decision: everything it reads and writes commits together, or not at all."""
        with self._transaction() as conn:
            yield Decision(conn, self.store_id)

    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, conn: sqlite3.Connection, values: dict[str, str]) -> None:
        conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", values.items())
        conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    def generation(self) -> int:
        """Changes with every sync, so a gate reloads what another process synced."""
        return int(self._meta("generation") or 0)

    def sync_state(self) -> SyncState:
        with self._transaction() as conn:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            denied = frozenset(conn.execute("SELECT kind, value FROM denied").fetchall())
        keys = meta.get("keys")
        return SyncState(
            generation=int(meta["generation"]),
            keys=json.loads(keys) if keys else None,
            keys_etag=meta.get("keys_etag") or None,
            keys_synced_at=_int(meta.get("keys_synced_at")),
            deny_cursor=int(meta.get("deny_cursor", 0)),
            deny_synced_at=_int(meta.get("deny_synced_at")),
            denied=denied,
        )

    def save_keys(self, document: dict[str, Any], etag: str | None, synced_at: int) -> None:
        with self._transaction() as conn:
            self._set_meta(
                conn,
                {"keys": json.dumps(document), "keys_etag": etag or "", "keys_synced_at": str(synced_at)},
            )

    def keys_unchanged(self, synced_at: int) -> None:
        """The service answered 304: what the gate has is current as of `synced_at`."""
        with self._transaction() as conn:
            self._set_meta(conn, {"keys_synced_at": str(synced_at)})

    def apply_deny_changes(
        self,
        changes: Iterable[tuple[str, str, str]],
        next_cursor: int,
        synced_at: int | None,
        *,
        replace: bool = False,
    ) -> None:
        """(kind, value, "add" | "remove") in order, and the cursor they bring the gate to;
        `replace`: the changes are a snapshot of the whole list. `synced_at` is set once the
        gate has every change (the last page)."""
        with self._transaction() as conn:
            if replace:
                conn.execute("DELETE FROM denied")
            for kind, value, action in changes:
                if action == "add":
                    conn.execute("INSERT OR IGNORE INTO denied (kind, value) VALUES (?, ?)", (kind, value))
                else:
                    conn.execute("DELETE FROM denied WHERE kind = ? AND value = ?", (kind, value))
            values = {"deny_cursor": str(next_cursor)}
            if synced_at is not None:
                values["deny_synced_at"] = str(synced_at)
            self._set_meta(conn, values)

    def pending(self, gate_id: str | None, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """The oldest `limit` queued taps (of one gate, or of every gate of the group), each as
        (sequence, the tap as `POST /v1/gate/taps:batch` takes it)."""
        if gate_id is None:
            rows = self._conn.execute("SELECT seq, gate_id, tap FROM queue ORDER BY seq LIMIT ?", (limit,))
        else:
            rows = self._conn.execute(
                "SELECT seq, gate_id, tap FROM queue WHERE gate_id = ? ORDER BY seq LIMIT ?", (gate_id, limit)
            )
        return [
            (seq, {"tap_id": tap_id(gate, self.store_id, seq), **json.loads(tap)}) for seq, gate, tap in rows
        ]

    def online_tap_id(self, gate_id: str) -> str:
        """A new id for an online scan (`<gate id>:<store id>-o<n>`), on disk before it is used, so
        a retry after a lost answer names the same tap and a restart never repeats one."""
        with self._transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('online_taps', '0')")
            conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'online_taps'")
            n = conn.execute("SELECT value FROM meta WHERE key = 'online_taps'").fetchone()[0]
        return f"{gate_id}:{self.store_id}-o{n}"

    def uploaded(self, seqs: Iterable[int]) -> None:
        """The service has these taps (or refused them for good): they leave the queue."""
        with self._transaction() as conn:
            conn.executemany("DELETE FROM queue WHERE seq = ?", ((s,) for s in seqs))


def tap_id(gate_id: str, store_id: str, seq: int) -> str:
    """`<gate id>:<store id>-<sequence>`, at most 64 characters for a gate id of up to 40."""
    return f"{gate_id}:{store_id}-{seq}"


def _int(value: str | None) -> int | None:
    return int(value) if value else None


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
