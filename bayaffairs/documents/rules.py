"""Number formats, check digits and masking per document type.

Formats are those printed on the documents: HKID `A123456(7)` with its mod-11 check digit;
Macao resident ID `1234567(8)`; mainland resident ID, 18 characters with the ISO 7064 MOD 11-2
check; Home Return Permit `H12345678` / `M12345678` (older 11-character ones too); Exit-Entry
Permit `C12345678` / `CA1234567`; passports 5 to 20 letters and digits.

The bracketed digit of a Macao ID is described as a check digit (for typing errors), but its
algorithm is not published and no source we have computes it, so it is not verified: a made-up
number of the right shape is accepted. Where that matters (the quota per person), the desk
confirms the person at check-in by the document they show (`appointments/desk.py`).
"""

from __future__ import annotations

import re

ISSUER_OF = {
    "hkid": "HK",
    "macao_id": "MO",
    "mainland_id": "CN",
    "home_return_permit": "CN",
    "exit_entry_permit": "CN",
}
ENDORSEMENT_TYPES = ("G", "L", "T", "S", "F", "Q", "D", "V")
# Which endorsements a document carries: an Exit-Entry Permit its visit endorsements (G
# individual, L group, T family, S business, ...); a passport its visas (V).
ENDORSEMENTS_OF = {"exit_entry_permit": ("G", "L", "T", "S", "F", "Q", "D"), "passport": ("V",)}

_PATTERNS = {
    "hkid": re.compile(r"^([A-Z]{1,2})([0-9]{6})\(?([0-9A])\)?$"),
    "macao_id": re.compile(r"^([1578][0-9]{6})\(?([0-9])\)?$"),
    "mainland_id": re.compile(r"^[0-9]{17}[0-9X]$"),
    "home_return_permit": re.compile(r"^[HM]([0-9]{8}|[0-9]{10})$"),
    "exit_entry_permit": re.compile(r"^C[0-9A-Z][0-9]{7}$"),
    "passport": re.compile(r"^[A-Z0-9]{5,20}$"),
}


def normalise(doc_type: str, number: str) -> str:
    """Upper-case, spaces and dashes removed, HKID/Macao ID check digit in brackets.

    Raises ValueError with a human reason when the number cannot be of that type.
    """
    compact = re.sub(r"[\s-]", "", number).upper()
    pattern = _PATTERNS[doc_type]
    match = pattern.match(compact)
    if not match:
        raise ValueError(f"not a valid {doc_type.replace('_', ' ')} number")
    if doc_type == "hkid":
        prefix, digits, check = match.groups()
        if _hkid_check(prefix, digits) != check:
            raise ValueError("the HKID check digit does not match")
        return f"{prefix}{digits}({check})"
    if doc_type == "macao_id":
        body, check = match.groups()
        return f"{body}({check})"
    if doc_type == "mainland_id" and _mainland_check(compact[:17]) != compact[17]:
        raise ValueError("the resident ID check digit does not match")
    return compact


def person_number(doc_type: str, number: str) -> str:
    """The part of a normalised number that names the holder, whichever issue of the document
    it is: what fingerprints compare. A Home Return Permit's older 11-character number is its
    holder's lifelong 9-character number (letter and 8 digits, the whole number on the card
    permits) followed by a 2-digit count of the permits issued (00 for the first), so
    `M1234567801` is the holder of `M12345678`. Sources: no official page at hand; a
    third-party explanation (isslerlaw.com, "the first 8 digits are the lifetime number ...
    the 2-digit number indicates the number of certificate renewals, the first 00") agrees
    with how the card permits print the number. ASSUMPTION where that is wrong: two different
    people would share a quota. Every other type: the whole number."""
    if doc_type == "home_return_permit":
        return number[:9]
    return number


def _hkid_check(prefix: str, digits: str) -> str:
    values = [36] if len(prefix) == 1 else []
    values += [ord(c) - 55 for c in prefix] + [int(d) for d in digits]
    total = sum(v * w for v, w in zip(values, range(9, 1, -1), strict=True))
    remainder = (11 - total % 11) % 11
    return "A" if remainder == 10 else str(remainder)


def _mainland_check(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return "10X98765432"[total % 11]


def mask(number: str) -> str:
    """Keep the first character and the last two letters or digits; hide the rest."""
    positions = [i for i, c in enumerate(number) if c.isalnum()]
    keep = {positions[0], *positions[-2:]} if len(positions) >= 7 else {positions[0], positions[-1]}
    return "".join(c if (i in keep or not c.isalnum()) else "*" for i, c in enumerate(number))
