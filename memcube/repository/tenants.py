"""Tenants and API keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from memcube.models import DEFAULT_KEY_MAX_TRUST, ApiKey, Tenant


def create_tenant(session: Session, name: str) -> Tenant:
    tenant = Tenant(id=uuid.uuid4(), name=name)
    session.add(tenant)
    session.flush()
    return tenant


def get_tenant(session: Session, tenant_id: uuid.UUID) -> Tenant | None:
    return session.get(Tenant, tenant_id)


def list_tenants(session: Session) -> list[Tenant]:
    return list(session.scalars(select(Tenant).order_by(Tenant.created_at)))


def create_key(session: Session, tenant_id: uuid.UUID, name: str, key_hash: str, *,
               max_trust: float = DEFAULT_KEY_MAX_TRUST) -> ApiKey:
    key = ApiKey(id=uuid.uuid4(), tenant_id=tenant_id, name=name, key_hash=key_hash, max_trust=max_trust)
    session.add(key)
    session.flush()
    return key


def find_active_key(session: Session, key_hash: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)))


def get_key(session: Session, key_id: uuid.UUID) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def revoke_key(session: Session, key_id: uuid.UUID) -> bool:
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def tenant_exists(session: Session, tenant_id: uuid.UUID) -> bool:
    """True if the tenant exists, even when row-level security hides its row from the caller."""
    return bool(session.scalar(select(func.memos_tenant_exists(tenant_id))))
