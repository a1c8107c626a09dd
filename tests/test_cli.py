"""The operator CLI used by scripts and benchmarks."""
from sqlalchemy import select

from app.accounts.models import ApiToken, Tenant, User
from app.card_templates.models import CardTemplate
from app.tenancy import all_tenants, tenant_context


def _run(app, *args):
    return app.test_cli_runner().invoke(args=list(args), catch_exceptions=False)


def test_tenant_create_prints_id_and_uses_the_template(app, db):
    result = _run(app, "tenant", "create", "--company", "远航物流", "--email", "Boss@YuanHang.example",
                  "--password", "yuan-hang-2026", "--template", "telesales", "--lang", "en")
    assert result.exit_code == 0, result.output
    tenant_id = int(result.output.strip().splitlines()[-1])
    assert db.session.get(Tenant, tenant_id).name == "远航物流"
    with tenant_context(tenant_id):
        owner = db.session.scalars(select(User)).one()
        assert (owner.email, owner.role, owner.language) == ("boss@yuanhang.example", "owner", "en")
        assert db.session.scalars(select(CardTemplate)).one().base_key == "telesales"


def test_tenant_create_rejects_bad_input_without_writing(app, db):
    for args, message in (
        (["--template", "nope"], "unknown template"),
        (["--password", "short"], "10"),
    ):
        base = {"--company": "X", "--email": "x@example.com", "--password": "long-enough-pw-1"}
        flat = []
        for k, v in base.items():
            flat += [k, v]
        result = app.test_cli_runner().invoke(args=["tenant", "create", *flat, *args])
        assert result.exit_code != 0
        assert message in result.output
    assert db.session.execute(select(Tenant)).first() is None


def test_user_add_and_token_create(app, db):
    tenant_id = int(_run(app, "tenant", "create", "--company", "A", "--email", "a@example.com",
                         "--password", "alpha-bravo-77").output.split()[-1])
    result = _run(app, "user", "add", "--tenant", str(tenant_id), "--email", "sales@example.com",
                  "--password", "north-wind-93", "--role", "viewer")
    assert result.exit_code == 0, result.output
    dup = app.test_cli_runner().invoke(args=["user", "add", "--tenant", str(tenant_id), "--email",
                                             "SALES@example.com", "--password", "north-wind-93"])
    assert dup.exit_code != 0 and "already registered" in dup.output

    result = _run(app, "token", "create", "--email", "sales@example.com", "--name", "财务系统")
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("cc_")
    row = db.session.execute(all_tenants(select(ApiToken))).scalar_one()
    assert row.name == "财务系统" and token not in (row.token_hash, row.prefix)  # only the hash is stored
    r = app.test_client().get("/api/v1/template", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
