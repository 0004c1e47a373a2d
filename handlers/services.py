"""The domain services of one app, built once the resources they need have started."""

from __future__ import annotations

from dataclasses import dataclass

from bayaffairs.adapters.protocols import IdentityProvider, PaymentProvider
from bayaffairs.adapters.registry import Adapters
from bayaffairs.clock import Clock
from bayaffairs.config import Config
from bayaffairs.consents import ConsentService
from bayaffairs.credentials import CredentialService, ScopeCatalog
from bayaffairs.directory import Directory
from bayaffairs.documents.cipher import DocumentCipher
from bayaffairs.documents.service import DocumentService
from bayaffairs.idempotency import IdempotencyKeys
from bayaffairs.storage import Database
from bayaffairs.users import UserService


@dataclass
class Services:
    directory: Directory
    credentials: CredentialService
    users: UserService
    documents: DocumentService
    consents: ConsentService
    idempotency: IdempotencyKeys


def build_services(
    config: Config, db: Database, adapters: Adapters, clock: Clock, scopes: ScopeCatalog | None = None
) -> Services:
    settings = config.settings
    directory = Directory(config, adapters)
    credentials = CredentialService(db, clock, settings.auth, scopes or directory.scopes)

    def identity(provider_id: str) -> IdentityProvider | None:
        return adapters.get(provider_id, "identity_provider")  # type: ignore[return-value]

    def payment(provider_id: str) -> PaymentProvider | None:
        return adapters.get(provider_id, "payment_provider")  # type: ignore[return-value]

    return Services(
        directory=directory,
        credentials=credentials,
        users=UserService(db, clock, credentials, identity, payment),
        documents=DocumentService(db, clock, DocumentCipher(settings.secrets.documents_keys)),
        consents=ConsentService(db, clock),
        idempotency=IdempotencyKeys(db, settings.idempotency),
    )
