"""Fixed exchange rates from config, so demos and tests get the same conversions every run.

Configure each pair once, in either direction: the opposite direction is its inverse.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates

from bayaffairs.adapters.protocols import FxRate, FxRateSource
from bayaffairs.errors import PartnerError
from bayaffairs.money import MINOR_UNITS

# Demo data, not market rates.
DEMO_RATES = {
    "CNY/HKD": Decimal("1.0870"),
    "CNY/MOP": Decimal("1.1196"),
    "HKD/MOP": Decimal("1.0300"),
}
INVERSE_PLACES = Decimal("1e-10")
_CURRENCY = "|".join(sorted(MINOR_UNITS))


class Settings(Schema):
    class Meta:
        unknown = "raise"

    rates = fields.Dict(
        keys=fields.String(validate=validate.Regexp(rf"^({_CURRENCY})/({_CURRENCY})$")),
        values=fields.Decimal(validate=validate.Range(min=0, min_inclusive=False)),
        load_default=lambda: dict(DEMO_RATES),
    )

    @validates("rates")
    def check_pairs(self, value: dict[str, Decimal], **_: Any) -> None:
        for pair in value:
            base, _slash, quote = pair.partition("/")
            if base == quote:
                raise ValidationError(f"{pair}: base and quote are the same currency")
            if f"{quote}/{base}" in value:
                raise ValidationError(f"{pair}: configure a pair in one direction only")


class DemoRates(FxRateSource):
    Settings = Settings

    async def rate(self, base: str, quote: str, at: datetime) -> FxRate:
        rates: dict[str, Decimal] = self.settings["rates"]
        if base == quote:
            value = Decimal(1)
        elif f"{base}/{quote}" in rates:
            value = rates[f"{base}/{quote}"]
        elif f"{quote}/{base}" in rates:
            value = (1 / rates[f"{quote}/{base}"]).quantize(INVERSE_PLACES)
        else:
            raise PartnerError("fx_rate_unavailable", details={"partner": self.id}, base=base, quote=quote)
        return FxRate(base, quote, value, as_of=at, source=self.id)
