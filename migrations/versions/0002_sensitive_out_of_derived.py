"""sensitive values out of derived data

Until now a sensitive field's values could sit in the per-field value index, the duplicate match keys and (for a
field marked sensitive after cards were filled) the search text. This removes them: value-index rows of sensitive
fields are deleted, and every card holding a sensitive value gets its search text and match keys rebuilt without it.

The rebuild uses the value library's pure functions (app.clients.derived) on plain rows read here, not the ORM
models, so that later model changes cannot break this step.

Revision ID: 0002
Revises: 0001
"""
import json

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


class _Field:
    """The part of a FieldDef the derived-data functions read."""

    def __init__(self, row):
        self.key, self.type = row.key, row.type
        self.sensitive, self.identifier = bool(row.sensitive), bool(row.identifier)
        self.options, self.retired_options = _json(row.options) or [], _json(row.retired_options) or []
        self.columns = _json(row.columns) or []

    def spec(self, **extra):
        return {"options": list(self.options), "retired_options": list(self.retired_options),
                "columns": list(self.columns), **extra}


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def upgrade():
    from app.clients.derived import card_match_keys, card_search_text

    bind = op.get_bind()
    fields_by_tenant: dict[int, list[_Field]] = {}
    for row in bind.execute(sa.text("SELECT tenant_id, key, type, sensitive, identifier, options, retired_options, "
                                    "columns FROM field_def")):
        fields_by_tenant.setdefault(row.tenant_id, []).append(_Field(row))
    for tenant_id, fields in fields_by_tenant.items():
        sensitive = [f.key for f in fields if f.sensitive]
        if not sensitive:
            continue
        bind.execute(sa.text("DELETE FROM client_field_value WHERE tenant_id = :t AND key IN :keys")
                     .bindparams(sa.bindparam("keys", expanding=True)), {"t": tenant_id, "keys": sensitive})
        clients = bind.execute(sa.text("SELECT id, name, number, tags, \"values\" FROM client WHERE tenant_id = :t"),
                               {"t": tenant_id})
        for client in clients.fetchall():
            values = _json(client.values) or {}
            if not any(values.get(k) not in (None, "", []) for k in sensitive):
                continue
            text = card_search_text(fields, name=client.name, number=client.number, tags=_json(client.tags) or [],
                                    values=values)
            bind.execute(sa.text("UPDATE client SET search_text = :s WHERE tenant_id = :t AND id = :id"),
                         {"s": text, "t": tenant_id, "id": client.id})
            removed = bind.execute(sa.text("DELETE FROM client_match_key WHERE tenant_id = :t AND client_id = :id"),
                                   {"t": tenant_id, "id": client.id}).rowcount
            if not removed:
                continue  # a card merged into another keeps no match keys
            keys = sorted(card_match_keys(fields, client.name, values))
            if keys:
                bind.execute(sa.text("INSERT INTO client_match_key (tenant_id, client_id, kind, value) "
                                     "VALUES (:t, :id, :kind, :value)"),
                             [{"t": tenant_id, "id": client.id, "kind": k, "value": v} for k, v in keys])


def downgrade():
    pass  # nothing to restore: the removed rows were copies of values that stay in the cards
