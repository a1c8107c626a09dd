"""Company settings: name, time zone, stages, client numbers, visibility, sensitive-section policy."""
from __future__ import annotations


from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from app.accounts.models import AuditRecord, Tenant, User
from app.extensions import db
from app.values import normalize_text

MAX_STAGES = 20
STAGE_MAX_LENGTH = 40  # Client.stage is String(40)


class SettingsError(Exception):
    """A settings change that is not allowed; `message` says why."""

    def __init__(self, message, field: str = ""):
        super().__init__(str(message))
        self.message = message
        self.field = field


def _audit(actor: User, action: str, subject: str, **detail) -> None:
    db.session.add(AuditRecord(actor_id=actor.id, action=action, subject=subject[:200], detail=detail))


def save_general(actor: User, tenant: Tenant, *, name: str, timezone: str, number_pattern: str,
                 members_see_all: bool, sensitive_reason: str) -> list[str]:
    """Save the settings form (already validated); returns the names of what changed."""
    changed = []
    if tenant.name != name:
        changed.append("name")
        tenant.name = name
    if tenant.timezone != timezone:
        changed.append("timezone")
        tenant.timezone = timezone
    new = {"number_pattern": number_pattern, "members_see_all": members_see_all,
           "sensitive_reason": sensitive_reason}
    diff = {k: v for k, v in new.items() if tenant.setting(k) != v}
    if diff:
        tenant.update_settings(**diff)
        changed.extend(diff)
    if changed:
        _audit(actor, "settings.update", ", ".join(changed), changed=changed)
    return changed


def clients_at_stage(stage: str) -> int:
    from app.clients.models import Client

    return db.session.execute(select(func.count(Client.id)).where(Client.stage == stage)).scalar_one()


def stage_usage(tenant: Tenant) -> dict[str, int]:
    """How many cards (archived included) are at each stage."""
    from app.clients.models import Client

    rows = db.session.execute(select(Client.stage, func.count(Client.id)).group_by(Client.stage)).all()
    counts = dict(rows)
    return {s: counts.get(s, 0) for s in tenant.stages}


def _clean_stage(name: str, stages: list[str], *, allow: str | None = None) -> str:
    name = normalize_text(name or "")
    if not name:
        raise SettingsError(_l("Enter the stage's name."), "name")
    if len(name) > STAGE_MAX_LENGTH:
        raise SettingsError(_l("Use at most %(n)d characters.", n=STAGE_MAX_LENGTH), "name")
    if name in stages and name != allow:
        raise SettingsError(_l("There is already a stage called %(name)s.", name=name), "name")
    return name


def add_stage(actor: User, tenant: Tenant, name: str) -> str:
    stages = tenant.stages
    if len(stages) >= MAX_STAGES:
        raise SettingsError(_l("Use at most %(n)d stages.", n=MAX_STAGES), "name")
    name = _clean_stage(name, stages)
    tenant.update_settings(stages=stages + [name])
    _audit(actor, "settings.stage_add", name)
    return name


def rename_stage(actor: User, tenant: Tenant, old: str, new: str) -> int:
    """Rename a stage; cards at that stage move with it in one UPDATE. Returns how many cards moved."""
    from app.clients.models import Client

    stages = tenant.stages
    if old not in stages:
        raise SettingsError(_l("This stage no longer exists. Reload the page."), "name")
    new = _clean_stage(new, stages, allow=old)
    if new == old:
        return 0
    moved = db.session.execute(
        update(Client).where(Client.stage == old).values(stage=new).execution_options(synchronize_session="fetch")
    ).rowcount or 0
    tenant.update_settings(stages=[new if s == old else s for s in stages])
    from app.followups.contacts import CHURN_STAGE, refresh_contacts

    if moved and CHURN_STAGE in (old, new):  # churned cards are out of the due lists: their summary follows
        refresh_contacts(db.session.scalars(select(Client.id).where(Client.stage == new)).all())
    # The cards keep their stage under its new name; the audit record keeps the old one.
    _audit(actor, "settings.stage_rename", f"{old} → {new}", **{"from": old, "to": new, "clients": moved})
    return moved


def move_stage(actor: User, tenant: Tenant, name: str, direction: str) -> None:
    stages = tenant.stages
    if name not in stages:
        raise SettingsError(_l("This stage no longer exists. Reload the page."), "name")
    i = stages.index(name)
    j = i - 1 if direction == "up" else i + 1
    if not 0 <= j < len(stages):
        return
    stages[i], stages[j] = stages[j], stages[i]
    tenant.update_settings(stages=stages)
    _audit(actor, "settings.stage_move", name, order=stages)


def remove_stage(actor: User, tenant: Tenant, name: str) -> None:
    stages = tenant.stages
    if name not in stages:
        raise SettingsError(_l("This stage no longer exists. Reload the page."), "name")
    in_use = clients_at_stage(name)
    if in_use:
        raise SettingsError(_l("%(n)d clients are at the stage %(name)s. Move them to another stage first, "
                               "or rename it.", n=in_use, name=name), "name")
    if len(stages) == 1:
        raise SettingsError(_l("Keep at least one stage."), "name")
    tenant.update_settings(stages=[s for s in stages if s != name])
    _audit(actor, "settings.stage_remove", name)
