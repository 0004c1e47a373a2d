"""Accept-Encoding as RFC 9110 12.5.3 reads it: does the client take gzip?"""

from __future__ import annotations

import pytest

from bayaffairs.handlers.headers import accepts_gzip


@pytest.mark.parametrize(
    ("header", "takes"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("gzip;q=nonsense", False),
        ("identity", False),
        ("br", False),
        ("deflate, br", False),
        ("*", True),
        ("*;q=0", False),
        ("gzip;q=0, *", False),  # named and refused: the star does not bring it back
        ("br, *;q=0.1", True),
    ],
)
def test_which_headers_take_gzip(header: str | None, takes: bool) -> None:
    assert accepts_gzip(header) is takes
