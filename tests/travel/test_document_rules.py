"""Which travel documents cross which border, per direction and per holder (the rule table in
config `[travel.crossings]` and `[travel.entry]`, shown in docs/travel.md), per
shared/domain/gba.md section 3."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from bayaffairs.travel.documents import Crossing, OnwardFlight, TravelDocument, refusal
from tests.support import FAR_AHEAD, START

TRAVEL = START.date() + timedelta(days=80)  # a travel day some weeks after the test clock's
ARRIVES = datetime.combine(TRAVEL, time(10, 0), UTC)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "travel.md"
VALID = date.fromisoformat(FAR_AHEAD)


def doc(
    type_: str,
    issuing: str = "CN",
    expires: date = VALID,
    number: str = "C1*****78",
    endorsements: tuple[tuple[str, str, date, int | None], ...] = (),
) -> TravelDocument:
    return TravelDocument("doc_1", type_, issuing, expires, number, endorsements)


def hrp(resident: str) -> TravelDocument:
    """A Home Return Permit of a Hong Kong (H...) or Macao (M...) resident."""
    return doc("home_return_permit", number=("H" if resident == "HK" else "M") + "*******78")


def eep(*endorsements: tuple[str, str, date, int | None]) -> TravelDocument:
    return doc("exit_entry_permit", endorsements=endorsements)


def passport(country: str, *visas: tuple[str, str, date, int | None]) -> TravelDocument:
    return doc("passport", country, number="P*****12", endorsements=visas)


def flight(hours_after_arrival: float) -> OnwardFlight:
    return OnwardFlight("CX251", ARRIVES + timedelta(hours=hours_after_arrival))


def crossing(
    origin: str, destination: str, *, airside: bool = False, point: str = "west_kowloon"
) -> Crossing:
    return Crossing(origin, destination, airside, point, TRAVEL, ARRIVES)


SOON = TRAVEL + timedelta(days=212)
LAPSED = TRAVEL - timedelta(days=1)


@pytest.mark.parametrize(
    ("where", "document", "onward", "reason"),
    [
        # Hong Kong and Macao residents: Home Return Permit into the mainland, and home from it.
        (crossing("HK", "CN"), hrp("HK"), None, None),
        (crossing("MO", "CN"), hrp("MO"), None, None),
        (crossing("CN", "HK"), hrp("HK"), None, None),
        (crossing("CN", "MO"), hrp("MO"), None, None),
        (
            crossing("CN", "HK"),
            hrp("MO"),
            None,
            "home_return_permit_of_mo_residents_not_accepted_for_cn_to_hk",
        ),
        (
            crossing("HK", "CN"),
            doc("hkid", "HK", number="A*****6(3)"),
            None,
            "hkid_not_accepted_for_hk_to_cn",
        ),
        (crossing("CN", "HK"), doc("hkid", "HK", number="A*****6(3)"), None, None),
        (crossing("MO", "HK"), doc("macao_id", "MO", number="1*****7(8)"), None, None),
        (crossing("HK", "MO"), doc("hkid", "HK", number="A*****6(3)"), None, None),
        # Mainland residents: Exit-Entry Permit with an endorsement of the right type, still
        # valid on the travel date and with entries left; home without one.
        (crossing("CN", "HK"), eep(("G", "HK", SOON, 1)), None, None),
        (crossing("CN", "MO"), eep(("L", "MO", TRAVEL, None)), None, None),  # multiple entries
        (crossing("CN", "HK"), eep(("S", "HK", SOON, 3)), None, None),
        (crossing("CN", "HK"), eep(("G", "MO", SOON, 1)), None, "no_valid_endorsement_for_hk"),
        (crossing("CN", "HK"), eep(("G", "HK", LAPSED, 1)), None, "no_valid_endorsement_for_hk"),
        (crossing("CN", "HK"), eep(("D", "HK", SOON, 1)), None, "no_valid_endorsement_for_hk"),
        (crossing("CN", "HK"), eep(("G", "HK", SOON, 0)), None, "no_entries_left_on_endorsement_for_hk"),
        (crossing("CN", "HK"), eep(), None, "no_valid_endorsement_for_hk"),
        (crossing("HK", "CN"), eep(), None, None),
        (
            crossing("CN", "HK"),
            doc("mainland_id", number="1****************8"),
            None,
            "mainland_id_not_accepted_for_cn_to_hk",
        ),
        # Passports: citizens home; residents of Hong Kong and Macao use their permits; other
        # countries need a visa, a visa-free stay, or (mainland) the 240-hour transit.
        (crossing("HK", "CN"), passport("CN"), None, None),
        (crossing("HK", "CN"), passport("HK"), None, "residents_of_hk_need_their_permit_not_a_passport"),
        (crossing("HK", "CN"), passport("FR"), None, None),
        (crossing("HK", "CN"), passport("US"), None, "visa_required_for_cn"),
        (crossing("HK", "CN"), passport("US", ("V", "CN", SOON, 2)), None, None),
        (crossing("HK", "CN"), passport("US", ("V", "CN", LAPSED, 2)), None, "visa_required_for_cn"),
        (crossing("HK", "CN"), passport("US"), flight(200), None),  # 240-hour transit
        (crossing("HK", "CN"), passport("US"), flight(250), "visa_required_for_cn"),
        (
            crossing("HK", "CN", point="lok_ma_chau_huanggang"),
            passport("US"),
            flight(24),
            "visa_required_for_cn",
        ),
        (crossing("CN", "HK"), passport("GB"), None, None),
        (crossing("CN", "HK"), passport("ZZ"), None, "visa_required_for_hk"),
        (crossing("CN", "HK"), passport("ZZ", ("V", "HK", SOON, None)), None, None),
        (crossing("CN", "HK"), passport("CN"), None, "residents_of_cn_need_their_permit_not_a_passport"),
        # Shekou -> SkyPier: airside, no Hong Kong entry, an onward flight instead.
        (crossing("CN", "HK", airside=True), passport("CN"), flight(3), None),
        (crossing("CN", "HK", airside=True), passport("ZZ"), flight(3), None),
        (crossing("CN", "HK", airside=True), passport("CN"), None, "onward_flight_required"),
        (crossing("CN", "HK", airside=True), passport("CN"), flight(30), "onward_flight_not_within_24_hours"),
        (crossing("CN", "HK", airside=True), passport("CN"), flight(-1), "onward_flight_not_within_24_hours"),
        (
            crossing("CN", "HK", airside=True),
            doc("hkid", "HK"),
            flight(3),
            "hkid_not_accepted_for_cn_to_hk_airside",
        ),
        # Always: valid on the travel date; a crossing that is none.
        (
            crossing("HK", "CN"),
            doc("home_return_permit", number="H*******78", expires=LAPSED),
            None,
            "document_expires_before_travel",
        ),
        (crossing("HK", "CN"), doc("home_return_permit", number="H*******78", expires=TRAVEL), None, None),
        (crossing("HK", "HK"), doc("hkid", "HK"), None, "crossing_not_supported"),
    ],
)
def test_crossing_rules(
    config: Any, where: Crossing, document: TravelDocument, onward: OnwardFlight | None, reason: str | None
) -> None:
    assert refusal(config.settings.travel, where, document, onward) == reason


def _docs_table() -> dict[str, set[tuple[str, str, str]]]:
    """The rule table as docs/travel.md shows it: crossing -> {(document, holders, needs)}."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Documents per crossing", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, set[tuple[str, str, str]]] = {}
    for line in section.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.match(r"^(CN|HK|MO)->(CN|HK|MO)", cells[0]):
            rows.setdefault(cells[0], set()).add((cells[1], cells[2], cells[3]))
    return rows


def test_docs_show_the_rule_table_that_config_holds(config: Any) -> None:
    shown = _docs_table()
    configured = {
        key: {
            (
                r.document,
                ", ".join(r.holders) or "anyone",
                "; ".join(rule.needs(r)) or "-",
            )
            for r in rule.documents
        }
        for key, rule in config.settings.travel.crossings.items()
    }
    assert shown == configured
