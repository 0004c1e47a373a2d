"""Which document crosses which border (config [travel.crossings]), per shared/domain/gba.md."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from bayaffairs.travel.documents import TravelDocument, refusal

TRAVEL = date(2026, 6, 1)


def doc(type_: str, issuing: str = "CN", expires: date = date(2030, 1, 1), **kw: Any) -> TravelDocument:
    return TravelDocument("doc_1", type_, issuing, expires, kw.get("endorsements", ()))


@pytest.fixture
def crossings(config: Any) -> Any:
    return config.settings.travel.crossings


@pytest.mark.parametrize(
    ("origin", "destination", "document", "reason"),
    [
        ("HK", "CN", doc("home_return_permit"), None),
        ("MO", "CN", doc("home_return_permit"), None),
        ("HK", "CN", doc("hkid", "HK"), "hkid_not_accepted_for_hk_to_cn"),
        ("HK", "CN", doc("passport", "GB"), None),
        ("HK", "CN", doc("passport", "HK"), "residents_of_hk_need_their_permit_not_a_passport"),
        ("CN", "HK", doc("exit_entry_permit", endorsements=[("G", "HK", date(2026, 12, 31))]), None),
        (
            "CN",
            "HK",
            doc("exit_entry_permit", endorsements=[("G", "MO", date(2026, 12, 31))]),
            "no_valid_endorsement_for_hk",
        ),
        (
            "CN",
            "HK",
            doc("exit_entry_permit", endorsements=[("G", "HK", date(2026, 5, 31))]),
            "no_valid_endorsement_for_hk",
        ),
        ("CN", "MO", doc("exit_entry_permit", endorsements=[("L", "MO", TRAVEL)]), None),
        ("CN", "HK", doc("mainland_id"), "mainland_id_not_accepted_for_cn_to_hk"),
        ("CN", "HK", doc("hkid", "HK"), None),
        ("HK", "MO", doc("hkid", "HK"), None),
        ("MO", "HK", doc("macao_id", "MO"), None),
        ("HK", "CN", doc("home_return_permit", expires=date(2026, 5, 31)), "document_expires_before_travel"),
        ("HK", "CN", doc("home_return_permit", expires=TRAVEL), None),
        ("HK", "HK", doc("hkid", "HK"), "crossing_not_supported"),
    ],
)
def test_crossing_rules(
    crossings: Any, origin: str, destination: str, document: TravelDocument, reason: str | None
) -> None:
    assert refusal(crossings, origin, destination, document, TRAVEL) == reason
