"""What the service knows of each gate's history: the newest tap it delivered."""

from __future__ import annotations

from datetime import datetime

from bayaffairs.storage import Connection


async def newest_tap(conn: Connection, operator: str, gate_id: str) -> datetime | None:
    value: datetime | None = await conn.fetchval(
        "SELECT newest_tap_at FROM gate_contacts WHERE operator = $1 AND gate_id = $2", operator, gate_id
    )
    return value


async def delivered(conn: Connection, operator: str, gate_id: str, newest: datetime) -> None:
    """The gate delivered taps up to `newest` (its record only moves forward)."""
    await conn.execute(
        """
        INSERT INTO gate_contacts (operator, gate_id, newest_tap_at) VALUES ($1, $2, $3)
        ON CONFLICT (operator, gate_id)
        DO UPDATE SET newest_tap_at = greatest(gate_contacts.newest_tap_at, excluded.newest_tap_at)
        """,
        operator,
        gate_id,
        newest,
    )
