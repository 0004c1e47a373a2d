"""What the domain needs from a database, written as protocols so it imports no driver.

`bayaffairs.db.database.Database` (asyncpg) satisfies `Database`; query functions in
`bayaffairs.db.queries` take a `Connection`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, overload


class Record(Protocol):
    """A row: its values by column name or position, like asyncpg's Record."""

    def __getitem__(self, key: str | int) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...
    @overload
    def get(self, key: str) -> Any: ...
    @overload
    def get(self, key: str, default: Any) -> Any: ...
    def keys(self) -> Iterator[str]: ...


class Connection(Protocol):
    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str: ...
    async def executemany(
        self, command: str, args: Sequence[Sequence[Any]], *, timeout: float | None = None
    ) -> None: ...
    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> Sequence[Record]: ...
    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> Record | None: ...
    async def fetchval(
        self, query: str, *args: Any, column: int = 0, timeout: float | None = None
    ) -> Any: ...
    async def copy_records_to_table(
        self,
        table_name: str,
        *,
        records: Iterable[Sequence[Any]],
        columns: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> str: ...


class Database(Protocol):
    def acquire(self) -> AbstractAsyncContextManager[Connection]: ...
    def transaction(self) -> AbstractAsyncContextManager[Connection]: ...


def returned(record: Record | None) -> Record:
    """The row of a statement that always returns one (INSERT ... RETURNING, an UPDATE of a row
    the caller holds)."""
    if record is None:
        raise LookupError("the statement returned no row")
    return record
