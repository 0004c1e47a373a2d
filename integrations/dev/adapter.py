"""A sign-in that verifies nothing: the code is the rider's handle.

It exists so demos and tests can sign in as anyone; config enables it only in the demo and test
profiles. Being unverified, it is the one provider that takes name and category from `claims`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bayaffairs.adapters.protocols import RIDER_CATEGORIES, IdentityProvider, LoginRejected, VerifiedIdentity

HANDLE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class DevLogin(IdentityProvider):
    """The same handle is the same rider; a new handle is a new rider."""

    # Clients may offer a handle, a name and a category here (GET /v1/auth/providers says so).
    unverified = True

    async def exchange(self, code: str, claims: Mapping[str, Any]) -> VerifiedIdentity:
        if not isinstance(code, str) or not HANDLE.fullmatch(code):
            raise LoginRejected("a dev handle is 1-64 of A-Z a-z 0-9 _ . -")
        name = claims.get("display_name")
        category = claims.get("category")
        return VerifiedIdentity(
            subject=code,
            display_name=name if isinstance(name, str) and name else code,
            category=category if category in RIDER_CATEGORIES else None,
        )
