"""The domain services of one app or command, built once on the started resources (root.py)."""

from __future__ import annotations

from dataclasses import dataclass

from bayaffairs.adapters.protocols import (
    BorderCarrier,
    CounterAgency,
    FxRateSource,
    IdentityProvider,
    Notifier,
    PaymentProvider,
)
from bayaffairs.adapters.registry import Adapters
from bayaffairs.appointments.service import Appointments, build_appointments
from bayaffairs.audit import AuditLog
from bayaffairs.clock import Clock
from bayaffairs.config import Config
from bayaffairs.config.settings import RideCodeSettings
from bayaffairs.consents import ConsentService
from bayaffairs.credentials import CredentialService, ScopeCatalog
from bayaffairs.directory import Directory
from bayaffairs.documents.cipher import DocumentCipher
from bayaffairs.documents.service import DocumentService
from bayaffairs.fx import Converter
from bayaffairs.idempotency import IdempotencyKeys
from bayaffairs.privacy.access import AccessLog
from bayaffairs.privacy.erasure import AccountDeletion
from bayaffairs.privacy.export import Exports, Sources
from bayaffairs.privacy.recipients import RecipientDirectory, recipient_directory
from bayaffairs.privacy.retention import Retention
from bayaffairs.sealing import Sealer
from bayaffairs.signing.keys import IssuerKeys
from bayaffairs.storage import Database
from bayaffairs.transfers import DataTransfers
from bayaffairs.transit.backlog import Backlog
from bayaffairs.transit.charging import RideCharges
from bayaffairs.transit.debts import Debts
from bayaffairs.transit.denylist import DenyList
from bayaffairs.transit.issuing import CodeStore, RideCodeService
from bayaffairs.transit.journeys import Journeys
from bayaffairs.transit.keyring import RideCodeKeys
from bayaffairs.transit.network import Network
from bayaffairs.transit.products import FareProducts, products_of
from bayaffairs.transit.qr import QrRenderer
from bayaffairs.transit.repairs import Repairs
from bayaffairs.transit.scans import ScanService
from bayaffairs.transit.settlement import Settlements
from bayaffairs.transit.uploads import TapUploads
from bayaffairs.travel.service import TravelServices, build_travel
from bayaffairs.users import UserService


@dataclass
class TransitServices:
    settings: RideCodeSettings
    network: Network
    issuer_keys: IssuerKeys
    keys: RideCodeKeys
    converter: Converter
    codes: RideCodeService
    scans: ScanService
    journeys: Journeys
    repairs: Repairs
    deny_list: DenyList
    uploads: TapUploads
    settlements: Settlements
    charges: RideCharges
    products: FareProducts
    debts: Debts
    renderer: QrRenderer
    backlog: Backlog


@dataclass
class Services:
    directory: Directory
    credentials: CredentialService
    users: UserService
    documents: DocumentService
    consents: ConsentService
    transfers: DataTransfers
    idempotency: IdempotencyKeys
    transit: TransitServices
    travel: TravelServices
    appointments: Appointments
    privacy: PrivacyServices
    audit: AuditLog


@dataclass
class PrivacyServices:
    """Riders' rights over their personal data (bayaffairs/privacy/)."""

    access_log: AccessLog
    recipients: RecipientDirectory
    exports: Exports
    deletion: AccountDeletion
    retention: Retention


def build_transit(
    config: Config, db: Database, adapters: Adapters, clock: Clock, store: CodeStore
) -> TransitServices:
    settings = config.settings
    network = Network(config, adapters)
    issuer_keys = IssuerKeys(db, clock, settings.signing, Sealer(settings.secrets.signing_keys))
    keys = RideCodeKeys(issuer_keys)
    converter = Converter(next(iter(adapters.of_kind(FxRateSource)), None), clock)
    products = FareProducts(db, clock, products_of(config.jurisdictions.values()))
    scans = ScanService(db, clock, settings.ride_codes, network, keys, converter, products)
    deny_list = DenyList(db, clock)
    debts = Debts(db, clock, adapters.lookup(PaymentProvider))

    charges = RideCharges(
        db,
        clock,
        adapters.lookup(PaymentProvider),
        converter,
        debts,
        products,
        hold_seconds=settings.ride_codes.repair_days * 86400,
        batch=settings.ride_codes.charge_batch,
        concurrency=settings.ride_codes.charge_concurrency,
        rounds=settings.ride_codes.charge_rounds,
        share=settings.ride_codes.charge_share,
    )

    return TransitServices(
        settings=settings.ride_codes,
        network=network,
        issuer_keys=issuer_keys,
        keys=keys,
        converter=converter,
        codes=RideCodeService(db, clock, settings.ride_codes, network, keys, store),
        scans=scans,
        journeys=Journeys(db, clock, network, converter),
        repairs=Repairs(db, clock, network, converter, products, settings.ride_codes.repair_days),
        deny_list=deny_list,
        uploads=TapUploads(db, clock, settings.ride_codes, network, keys, scans.recorder),
        settlements=Settlements(db, clock, network, settings.settlement, products.products),
        charges=charges,
        products=products,
        debts=debts,
        renderer=QrRenderer(),
        backlog=Backlog(db, clock, hold_seconds=charges.hold_seconds, stale_seconds=charges.stale_seconds),
    )


def build_services(
    config: Config,
    db: Database,
    adapters: Adapters,
    clock: Clock,
    store: CodeStore,
    scopes: ScopeCatalog | None = None,
) -> Services:
    settings = config.settings
    directory = Directory(config, adapters)
    credentials = CredentialService(db, clock, settings.auth, scopes or directory.scopes, directory.stations)
    users = UserService(
        db,
        clock,
        credentials,
        adapters.lookup(IdentityProvider),
        adapters.lookup(PaymentProvider),
    )
    documents = DocumentService(
        db, clock, DocumentCipher(settings.secrets.documents_keys, settings.secrets.fingerprint_keys)
    )
    transit = build_transit(config, db, adapters, clock, store)
    travel = build_travel(
        settings.travel,
        db,
        clock,
        adapters.of_kind(BorderCarrier),
        config.jurisdictions,
        documents,
        users,
        adapters.lookup(PaymentProvider),
        transit.converter,
        transit.issuer_keys,
        adapters.lookup(Notifier),
    )
    appointments = build_appointments(
        db,
        clock,
        adapters.of_kind(CounterAgency),
        transit.issuer_keys,
        documents,
        adapters.lookup(Notifier),
        languages={j.id: j.languages[0] for j in config.jurisdictions.values()},
    )
    consents = ConsentService(db, clock)
    transfers = DataTransfers(db, clock)
    access_log = AccessLog(db, clock)
    sources = Sources(
        users=users,
        documents=documents,
        consents=consents,
        transfers=transfers,
        access_log=access_log,
        journeys=transit.journeys,
        bookings=travel.bookings,
        appointments=appointments,
        renderer=transit.renderer,
    )
    privacy = PrivacyServices(
        access_log=access_log,
        recipients=recipient_directory(travel.carriers, appointments.catalogue, config.adapter_blocks),
        exports=Exports(db, clock, settings.privacy, sources, Sealer(settings.secrets.documents_keys)),
        deletion=AccountDeletion(
            db, clock, settings.privacy, credentials, travel.bookings, travel.payments, appointments.booking
        ),
        retention=Retention(db, clock, settings.privacy.retention, appointments.changes.next),
    )
    return Services(
        directory=directory,
        credentials=credentials,
        users=users,
        documents=documents,
        consents=consents,
        transfers=transfers,
        idempotency=IdempotencyKeys(db, settings.idempotency),
        transit=transit,
        travel=travel,
        appointments=appointments,
        privacy=privacy,
        audit=AuditLog(db, clock),
    )
