"""Data migrations, run the way `flask db upgrade` runs them: on a database file at the earlier revision."""
from __future__ import annotations

from sqlalchemy import select

from app import create_app
from app.config import TestConfig
from app.extensions import db
from app.tenancy import tenant_context
from tests import factories


def test_0002_takes_sensitive_values_out_of_derived_data(tmp_path, app):
    from flask_migrate import downgrade, upgrade

    from app.clients.models import Client, ClientFieldValue, ClientMatchKey

    old = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/old.sqlite")
    with old.app_context():
        # A card made by today's code, then the schema taken back to 0001 (later migrations add columns today's
        # models need), and the derived data written the way the code before 0002 wrote it.
        upgrade()
        bundle = factories.tenant("旧数据公司", "owner@old.example")
        card = factories.client(bundle, name="旧数据公司客户", fields={"pic_home_address": "北京市朝阳区幸福路",
                                                                    "pic_marital_status": "已婚",
                                                                    "business_phone": "021-55881234"})
        tenant_id = bundle.id
        with tenant_context(tenant_id):
            card_id = card.id
        db.session.remove()
        downgrade(revision="0001")
        clients, values, keys = (t.__table__ for t in (Client, ClientFieldValue, ClientMatchKey))
        with db.engine.begin() as conn:
            text_before = conn.execute(select(clients.c.search_text).where(clients.c.id == card_id)).scalar_one()
            conn.execute(clients.update().where(clients.c.id == card_id)
                         .values(search_text=text_before + " 北京市朝阳区幸福路"))
            conn.execute(values.insert().values(tenant_id=tenant_id, client_id=card_id, key="pic_marital_status",
                                                txt="已婚"))
            conn.execute(keys.insert().values(tenant_id=tenant_id, client_id=card_id,
                                              kind="field:pic_home_address", value="北京市朝阳区幸福路"))

        upgrade()

        with tenant_context(tenant_id):
            client = db.session.get(Client, card_id)
            assert "幸福路" not in client.search_text and "021" in client.search_text
            assert db.session.scalars(select(ClientFieldValue.key).where(
                ClientFieldValue.key == "pic_marital_status")).all() == []
            keys = set(db.session.execute(select(ClientMatchKey.kind, ClientMatchKey.value)).all())
            assert ("phone", "02155881234") in keys and not any("幸福路" in v for _k, v in keys)
            assert client.values["pic_home_address"] == "北京市朝阳区幸福路"  # the card keeps its value
        db.session.remove()
