"""The dev sign-in: the code is a handle, trusted as is."""

from __future__ import annotations

from typing import Any

import pytest

from bayaffairs.adapters.protocols import LoginRejected
from bayaffairs.config.errors import ConfigError
from bayaffairs.integrations.dev.adapter import DevLogin
from tests.integrations.support import build_adapter


@pytest.fixture
def dev() -> DevLogin:
    adapter: DevLogin = build_adapter("dev")
    return adapter


async def test_handle_is_the_subject_and_default_name(dev: DevLogin) -> None:
    identity = await dev.exchange("alice.w-01", {})
    assert (identity.subject, identity.display_name, identity.category) == (
        "alice.w-01",
        "alice.w-01",
        None,
    )


async def test_same_handle_gives_same_subject_and_new_handle_a_new_one(dev: DevLogin) -> None:
    first, again, other = [await dev.exchange(h, {}) for h in ("bob", "bob", "carol")]
    assert first.subject == again.subject != other.subject


async def test_display_name_comes_from_claims(dev: DevLogin) -> None:
    identity = await dev.exchange("dan", {"display_name": "Dan Wong"})
    assert identity.display_name == "Dan Wong"


@pytest.mark.parametrize("category", ["adult", "child", "student", "elderly"])
async def test_known_category_comes_from_claims(dev: DevLogin, category: Any) -> None:
    assert (await dev.exchange("erin", {"category": category})).category == category


@pytest.mark.parametrize("category", ["vip", "", 3, None])
async def test_unknown_category_is_dropped(dev: DevLogin, category: Any) -> None:
    assert (await dev.exchange("frank", {"category": category})).category is None


@pytest.mark.parametrize("handle", ["", "a" * 65, "has space", "ünicode", "semi;colon", "a/b"])
async def test_invalid_handle_is_rejected(dev: DevLogin, handle: str) -> None:
    with pytest.raises(LoginRejected):
        await dev.exchange(handle, {})


async def test_longest_allowed_handle_is_accepted(dev: DevLogin) -> None:
    assert (await dev.exchange("a" * 64, {})).subject == "a" * 64


def test_settings_are_refused() -> None:
    with pytest.raises(ConfigError):
        build_adapter("dev", {"trust": "everyone"})
