"""Everything cross-border travel offers, built once per app from config and adapters."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from bayaffairs.adapters.protocols import BorderCarrier, Notifier, PaymentProvider
from bayaffairs.clock import Clock
from bayaffairs.config.regions import Jurisdiction
from bayaffairs.config.settings import TravelSettings
from bayaffairs.documents.service import DocumentService
from bayaffairs.fx import Converter
from bayaffairs.signing.keys import IssuerKeys
from bayaffairs.storage import Database
from bayaffairs.travel.boarding import Boarding
from bayaffairs.travel.bookings import TravelBookings
from bayaffairs.travel.cancelling import Cancellations
from bayaffairs.travel.carriers import Carriers, Departures
from bayaffairs.travel.disruption import Disruptions
from bayaffairs.travel.payments import TravelPayments
from bayaffairs.travel.recovery import TravelRecovery
from bayaffairs.travel.search import TravelSearch
from bayaffairs.travel.tickets import TicketKeys
from bayaffairs.users import UserService


@dataclass
class TravelServices:
    settings: TravelSettings
    carriers: Carriers
    departures: Departures
    search: TravelSearch
    bookings: TravelBookings
    payments: TravelPayments
    recovery: TravelRecovery
    tickets: TicketKeys
    boarding: Boarding
    disruptions: Disruptions
    cancellations: Cancellations


def build_travel(
    settings: TravelSettings,
    db: Database,
    clock: Clock,
    carrier_adapters: Iterable[BorderCarrier],
    jurisdictions: Mapping[str, Jurisdiction],
    documents: DocumentService,
    users: UserService,
    providers: Callable[[str], PaymentProvider | None],
    converter: Converter,
    issuer_keys: IssuerKeys,
    notifier: Callable[[str], Notifier | None] = lambda _id: None,
) -> TravelServices:
    carriers = Carriers(carrier_adapters, jurisdictions, settings.carrier_timeout_seconds)
    tickets = TicketKeys(issuer_keys)
    bookings = TravelBookings(db, clock, settings, carriers, documents)
    payments = TravelPayments(db, clock, bookings, carriers, documents, users, providers, converter, tickets)
    search = TravelSearch(db, clock, carriers, converter)
    departures = Departures(
        db,
        clock,
        carriers,
        settings.days_ahead,
        lambda: notifier(settings.notifier) if settings.notifier else None,
    )
    departures.forget += [search.forget, bookings.forget]
    return TravelServices(
        settings=settings,
        carriers=carriers,
        departures=departures,
        search=search,
        bookings=bookings,
        payments=payments,
        recovery=TravelRecovery(payments),
        tickets=tickets,
        boarding=Boarding(db, clock, tickets, carriers),
        disruptions=Disruptions(db, clock, settings, carriers, bookings, payments.refunds, tickets, notifier),
        cancellations=payments.cancellations,
    )
