"""The template is built once per process and reused, and every change — from this process or another — shows on
the next request."""
from __future__ import annotations

from sqlalchemy import select

from app.card_templates import cache
from app.extensions import db
from app.tenancy import tenant_context
from tests.api.conftest import api_for  # noqa: F401,F811  (fixture)
from tests.speed.test_statement_count import counting


def test_reused_until_a_change_and_each_change_seen(app, tenant_a):
    with tenant_context(tenant_a.id):
        first = cache.cached_template()
        with counting() as statements:
            again = cache.cached_template()
        assert again is first
        assert len(statements) == 1  # only the version check

        # Another process edits a label without going through the editor (no version bump): simulated by a
        # separate session and connection that commits on its own.
        from sqlalchemy.orm import Session

        from app.card_templates.models import FieldDef

        with Session(db.engine) as other:
            fd = other.scalars(select(FieldDef).where(FieldDef.key == "industry")).one()
            fd.label = "所属行业（新）"
            other.commit()
        db.session.rollback()  # a new request: a new transaction
        fresh = cache.cached_template()
        assert fresh is not first
        assert {f.key: f.label for f in fresh.fields}["industry"] == "所属行业（新）"


def test_editor_change_shows_in_the_api(app, tenant_a, api_for):  # noqa: F811
    api = api_for(tenant_a.owner)
    before = api.get("/template").get_json()
    r = api.patch("/template/fields/industry", json={"label": "行业类别"})
    assert r.status_code == 200, r.get_json()
    after = api.get("/template").get_json()
    assert after["version"] == before["version"] + 1
    labels = {f["key"]: f["label"] for s in after["sections"] for f in s["fields"]}
    assert labels["industry"] == "行业类别"


def test_uncommitted_change_in_this_transaction_is_seen(app, tenant_a):
    from app.card_templates.services import field_from_data, load_template

    with tenant_context(tenant_a.id):
        cache.cached_template()
        template = load_template()
        section = template.sections[0]
        db.session.add(field_from_data({"key": "wechat_group", "label": "微信群", "type": "text"}, template, section,
                                       999))
        db.session.flush()
        assert "wechat_group" in {f.key for f in cache.cached_template().fields}
        db.session.rollback()
        assert "wechat_group" not in {f.key for f in cache.cached_template().fields}
