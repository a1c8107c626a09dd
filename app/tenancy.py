"""Tenant scoping, enforced in one place.

Every tenant-owned model mixes in `TenantScoped`. A `do_orm_execute` listener adds
`tenant_id = <current tenant>` to every ORM SELECT/UPDATE/DELETE touching such a model, and
refuses to run one at all when no tenant is set (fail closed). Only an explicit
`.execution_options(all_tenants=True)` bypasses it: the login lookup, API-token lookup,
share-link lookup and operator CLI, which then set the tenant themselves.
A `before_flush` listener stamps `tenant_id` on new rows and rejects cross-tenant writes.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import ForeignKey, event
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column, with_loader_criteria

_current_tenant_id: ContextVar[int | None] = ContextVar("current_tenant_id", default=None)


class TenantNotSet(RuntimeError):
    """A tenant-owned table was queried with no tenant in scope."""


class CrossTenantWrite(RuntimeError):
    """A row of one tenant was about to be written while another tenant is in scope."""


class TenantScoped:
    """Mixin for every tenant-owned table: a non-null, indexed tenant_id."""

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), nullable=False, index=True)


def current_tenant_id() -> int | None:
    return _current_tenant_id.get()


def set_current_tenant(tenant_id: int | None):
    """Set the tenant for the rest of this context; returns a token for reset_current_tenant."""
    return _current_tenant_id.set(tenant_id)


def reset_current_tenant(token) -> None:
    _current_tenant_id.reset(token)


@contextmanager
def tenant_context(tenant_id: int):
    """Run a block (CLI command, job, test setup) as one tenant."""
    token = _current_tenant_id.set(tenant_id)
    try:
        yield
    finally:
        _current_tenant_id.reset(token)


def current_tenant():
    """The current Tenant row (cached per tenant id on flask.g), or None."""
    from flask import g, has_app_context

    from app.extensions import db
    from app.accounts.models import Tenant

    tid = current_tenant_id()
    if tid is None:
        return None
    if has_app_context():
        cached = g.get("_tenant")
        if cached is not None and cached.id == tid:
            return cached
    tenant = db.session.get(Tenant, tid)
    if has_app_context():
        g._tenant = tenant
    return tenant


def all_tenants(query):
    """Mark a statement as deliberately cross-tenant (operator tools, token lookups)."""
    return query.execution_options(all_tenants=True)


def _touches_tenant_table(orm_execute_state) -> bool:
    return any(
        isinstance(m.class_, type) and issubclass(m.class_, TenantScoped)
        for m in orm_execute_state.all_mappers
    )


def install(session_factory=Session) -> None:
    """Register the listeners (idempotent)."""
    if event.contains(session_factory, "do_orm_execute", _scope_statement):
        return
    event.listen(session_factory, "do_orm_execute", _scope_statement)
    event.listen(session_factory, "before_flush", _stamp_tenant)


def _scope_statement(state) -> None:
    if state.execution_options.get("all_tenants"):
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    tid = current_tenant_id()
    if tid is None:
        if _touches_tenant_table(state):
            raise TenantNotSet("query on a tenant table with no tenant in scope")
        return
    state.statement = state.statement.options(
        with_loader_criteria(TenantScoped, lambda cls: cls.tenant_id == tid, include_aliases=True)
    )


def _stamp_tenant(session, flush_context, instances) -> None:
    tid = current_tenant_id()
    for obj in session.new:
        if not isinstance(obj, TenantScoped):
            continue
        if obj.tenant_id is None:
            if tid is None:
                raise TenantNotSet(f"new {type(obj).__name__} with no tenant in scope")
            obj.tenant_id = tid
        elif tid is not None and obj.tenant_id != tid:
            raise CrossTenantWrite(f"{type(obj).__name__} of tenant {obj.tenant_id} written as {tid}")
    if tid is None:
        return
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, TenantScoped) and obj.tenant_id != tid:
            raise CrossTenantWrite(f"{type(obj).__name__} of tenant {obj.tenant_id} changed as {tid}")
