"""initial schema

Revision ID: 8d93a4b8783f
Revises: 
Create Date: 2026-11-24 07:48:48.732451
"""
from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import op
import pgvector.sqlalchemy
from sqlalchemy.dialects import postgresql

revision = '8d93a4b8783f'
down_revision = None
branch_labels = None
depends_on = None

# The embedding column's width follows the configured model (MiniLM: 384).
EMBEDDING_DIM = int(os.environ.get("MEMOS_EMBEDDING_DIM", "384"))


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table('tenants',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenants'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_api_keys_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    op.create_index(op.f('ix_api_keys_tenant_id'), 'api_keys', ['tenant_id'], unique=False)
    op.create_table('cubes',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_cubes_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cubes')),
    sa.UniqueConstraint('tenant_id', 'name', name='uq_cubes_tenant_name')
    )
    op.create_index(op.f('ix_cubes_tenant_id'), 'cubes', ['tenant_id'], unique=False)
    op.create_table('cube_grants',
    sa.Column('cube_id', sa.UUID(), nullable=False),
    sa.Column('grantee_id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('access', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['cube_id'], ['cubes.id'], name=op.f('fk_cube_grants_cube_id_cubes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['grantee_id'], ['tenants.id'], name=op.f('fk_cube_grants_grantee_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_cube_grants_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('cube_id', 'grantee_id', name=op.f('pk_cube_grants'))
    )
    op.create_index(op.f('ix_cube_grants_grantee_id'), 'cube_grants', ['grantee_id'], unique=False)
    op.create_table('jobs',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('cube_id', sa.UUID(), nullable=True),
    sa.Column('type', sa.String(length=80), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('llm_calls', sa.Integer(), nullable=False),
    sa.Column('llm_tokens', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['cube_id'], ['cubes.id'], name=op.f('fk_jobs_cube_id_cubes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_jobs_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('tenant_id', 'idempotency_key', name='uq_jobs_tenant_idempotency')
    )
    op.create_index('ix_jobs_cube_created', 'jobs', ['cube_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_jobs_tenant_id'), 'jobs', ['tenant_id'], unique=False)
    op.create_index('ix_jobs_undispatched', 'jobs', ['created_at'], unique=False, postgresql_where='dispatched_at IS NULL')
    op.create_table('messages',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('cube_id', sa.UUID(), nullable=False),
    sa.Column('session_id', sa.String(length=200), nullable=True),
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('role', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('timestamp', sa.DateTime(timezone=True), nullable=True),
    sa.Column('job_id', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['cube_id'], ['cubes.id'], name=op.f('fk_messages_cube_id_cubes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_messages_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages'))
    )
    op.create_index('ix_messages_cube_session', 'messages', ['cube_id', 'session_id', 'seq'], unique=False)
    op.create_index(op.f('ix_messages_tenant_id'), 'messages', ['tenant_id'], unique=False)
    op.create_table('payload_blobs',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('cube_id', sa.UUID(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('dtype', sa.String(length=40), nullable=True),
    sa.Column('model_id', sa.String(length=400), nullable=True),
    sa.Column('fingerprint', sa.String(length=128), nullable=True),
    sa.Column('residency', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['cube_id'], ['cubes.id'], name=op.f('fk_payload_blobs_cube_id_cubes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_payload_blobs_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payload_blobs')),
    sa.UniqueConstraint('tenant_id', 'sha256', name='uq_payload_blobs_tenant_sha')
    )
    op.create_index(op.f('ix_payload_blobs_cube_id'), 'payload_blobs', ['cube_id'], unique=False)
    op.create_index(op.f('ix_payload_blobs_tenant_id'), 'payload_blobs', ['tenant_id'], unique=False)
    op.create_table('memories',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('cube_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('tier', sa.String(length=20), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('metadata', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('tags', postgresql.ARRAY(sa.String(length=200)), nullable=False),
    sa.Column('keywords', postgresql.ARRAY(sa.String(length=200)), nullable=False),
    sa.Column('context', sa.Text(), nullable=True),
    sa.Column('session_id', sa.String(length=200), nullable=True),
    sa.Column('role', sa.String(length=200), nullable=True),
    sa.Column('provenance', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('trust', sa.Float(), nullable=False),
    sa.Column('embedding', pgvector.sqlalchemy.vector.VECTOR(dim=EMBEDDING_DIM), nullable=True),
    sa.Column('tsv', postgresql.TSVECTOR(), sa.Computed("to_tsvector('english', content)", persisted=True), nullable=True),
    sa.Column('event_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('blob_id', sa.UUID(), nullable=True),
    sa.Column('access_count', sa.Integer(), nullable=False),
    sa.Column('last_accessed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heat', sa.Float(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['blob_id'], ['payload_blobs.id'], name=op.f('fk_memories_blob_id_payload_blobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['cube_id'], ['cubes.id'], name=op.f('fk_memories_cube_id_cubes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_memories_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memories'))
    )
    op.create_index('ix_memories_cube_created', 'memories', ['cube_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_memories_cube_session', 'memories', ['cube_id', 'session_id'], unique=False)
    op.create_index('ix_memories_embedding_hnsw', 'memories', ['embedding'], unique=False, postgresql_using='hnsw', postgresql_with={'m': 16, 'ef_construction': 64}, postgresql_ops={'embedding': 'vector_cosine_ops'})
    op.create_index('ix_memories_tags', 'memories', ['tags'], unique=False, postgresql_using='gin')
    op.create_index(op.f('ix_memories_tenant_id'), 'memories', ['tenant_id'], unique=False)
    op.create_index('ix_memories_tsv', 'memories', ['tsv'], unique=False, postgresql_using='gin')
    op.create_table('memory_links',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('cube_id', sa.UUID(), nullable=False),
    sa.Column('source_id', sa.UUID(), nullable=False),
    sa.Column('target_id', sa.UUID(), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('strength', sa.Float(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('provenance', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['cube_id'], ['cubes.id'], name=op.f('fk_memory_links_cube_id_cubes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['memories.id'], name=op.f('fk_memory_links_source_id_memories'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['memories.id'], name=op.f('fk_memory_links_target_id_memories'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_memory_links_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memory_links')),
    sa.UniqueConstraint('source_id', 'target_id', 'type', name='uq_memory_links_edge')
    )
    op.create_index(op.f('ix_memory_links_cube_id'), 'memory_links', ['cube_id'], unique=False)
    op.create_index('ix_memory_links_target', 'memory_links', ['target_id'], unique=False)
    op.create_index(op.f('ix_memory_links_tenant_id'), 'memory_links', ['tenant_id'], unique=False)
    op.create_table('memory_versions',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('memory_id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('cube_id', sa.UUID(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('metadata', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('tags', postgresql.ARRAY(sa.String(length=200)), nullable=False),
    sa.Column('event_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('provenance', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['cube_id'], ['cubes.id'], name=op.f('fk_memory_versions_cube_id_cubes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['memory_id'], ['memories.id'], name=op.f('fk_memory_versions_memory_id_memories'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_memory_versions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memory_versions')),
    sa.UniqueConstraint('memory_id', 'version', name='uq_memory_versions_memory_version')
    )
    op.create_index(op.f('ix_memory_versions_cube_id'), 'memory_versions', ['cube_id'], unique=False)
    op.create_index(op.f('ix_memory_versions_tenant_id'), 'memory_versions', ['tenant_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_memory_versions_tenant_id'), table_name='memory_versions')
    op.drop_index(op.f('ix_memory_versions_cube_id'), table_name='memory_versions')
    op.drop_table('memory_versions')
    op.drop_index(op.f('ix_memory_links_tenant_id'), table_name='memory_links')
    op.drop_index('ix_memory_links_target', table_name='memory_links')
    op.drop_index(op.f('ix_memory_links_cube_id'), table_name='memory_links')
    op.drop_table('memory_links')
    op.drop_index('ix_memories_tsv', table_name='memories', postgresql_using='gin')
    op.drop_index(op.f('ix_memories_tenant_id'), table_name='memories')
    op.drop_index('ix_memories_tags', table_name='memories', postgresql_using='gin')
    op.drop_index('ix_memories_embedding_hnsw', table_name='memories', postgresql_using='hnsw', postgresql_with={'m': 16, 'ef_construction': 64}, postgresql_ops={'embedding': 'vector_cosine_ops'})
    op.drop_index('ix_memories_cube_session', table_name='memories')
    op.drop_index('ix_memories_cube_created', table_name='memories')
    op.drop_table('memories')
    op.drop_index(op.f('ix_payload_blobs_tenant_id'), table_name='payload_blobs')
    op.drop_index(op.f('ix_payload_blobs_cube_id'), table_name='payload_blobs')
    op.drop_table('payload_blobs')
    op.drop_index(op.f('ix_messages_tenant_id'), table_name='messages')
    op.drop_index('ix_messages_cube_session', table_name='messages')
    op.drop_table('messages')
    op.drop_index('ix_jobs_undispatched', table_name='jobs', postgresql_where='dispatched_at IS NULL')
    op.drop_index(op.f('ix_jobs_tenant_id'), table_name='jobs')
    op.drop_index('ix_jobs_cube_created', table_name='jobs')
    op.drop_table('jobs')
    op.drop_index(op.f('ix_cube_grants_grantee_id'), table_name='cube_grants')
    op.drop_table('cube_grants')
    op.drop_index(op.f('ix_cubes_tenant_id'), table_name='cubes')
    op.drop_table('cubes')
    op.drop_index(op.f('ix_api_keys_tenant_id'), table_name='api_keys')
    op.drop_table('api_keys')
    op.drop_table('tenants')
