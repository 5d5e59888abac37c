"""Every SQL query lives in a repository module here, nowhere else.

Functions take the session first. Tenant isolation is enforced by PostgreSQL row-level security on the
session's tenant context (see ``memcube.db``); the explicit filters here are for index use, not safety.
"""
