"""Each migration test gets its own throwaway database, never the shared test database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from bayaffairs.config import Config
from tests.support import create_database, drop_database, with_database


@pytest.fixture
async def empty_database(config: Config) -> AsyncIterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    url = with_database(config.settings.database.url, f"bayaffairs_test_mig_{uuid.uuid4().hex[:8]}")
    await create_database(url)
    try:
        yield url
    finally:
        await drop_database(url)


@pytest.fixture
async def conn(empty_database: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(empty_database)
    try:
        yield connection
    finally:
        await connection.close()
