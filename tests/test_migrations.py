"""Data migrations, run the way `flask db upgrade` runs them: on a database file at the earlier revision."""
from __future__ import annotations

from sqlalchemy import select

from app import create_app
from app.config import TestConfig
from app.extensions import db
from app.tenancy import tenant_context
from tests import factories


def test_0002_takes_sensitive_values_out_of_derived_data(tmp_path, app):
    from flask_migrate import upgrade

    from app.clients.models import Client, ClientFieldValue, ClientMatchKey

    old = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/old.sqlite")
    with old.app_context():
        upgrade(revision="0001")
        bundle = factories.tenant("旧数据公司", "owner@old.example")
        card = factories.client(bundle, name="旧数据公司客户", fields={"pic_home_address": "北京市朝阳区幸福路",
                                                                    "pic_marital_status": "已婚",
                                                                    "business_phone": "021-55881234"})
        with tenant_context(bundle.id):
            # What the code before this migration wrote: sensitive values copied into derived data.
            client = db.session.get(Client, card.id)
            db.session.execute(Client.__table__.update().where(Client.__table__.c.id == card.id)
                               .values(search_text=client.search_text + " 北京市朝阳区幸福路"))
            db.session.add(ClientFieldValue(client_id=card.id, key="pic_marital_status", txt="已婚"))
            db.session.add(ClientMatchKey(client_id=card.id, kind="field:pic_home_address", value="北京市朝阳区幸福路"))
            db.session.commit()

        upgrade()

        with tenant_context(bundle.id):
            client = db.session.get(Client, card.id)
            assert "幸福路" not in client.search_text and "021" in client.search_text
            assert db.session.scalars(select(ClientFieldValue.key).where(
                ClientFieldValue.key == "pic_marital_status")).all() == []
            keys = set(db.session.execute(select(ClientMatchKey.kind, ClientMatchKey.value)).all())
            assert ("phone", "02155881234") in keys and not any("幸福路" in v for _k, v in keys)
            assert client.values["pic_home_address"] == "北京市朝阳区幸福路"  # the card keeps its value
        db.session.remove()
