"""Editor comfort: archiving offers an undo; many options can be pasted at once, all or nothing."""
from app.card_templates.services import fields_by_key, load_template


def test_archiving_a_field_offers_undo_that_restores_it(db, tenant_a, login, hx, as_tenant):
    admin = login(tenant_a.owner)
    r = admin.post("/template/fields/website/archive", headers=hx)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'data-testid="undo"' in html and "/template/fields/website/restore" in html
    with as_tenant(tenant_a):
        assert fields_by_key(load_template())["website"].archived
    r = admin.post("/template/fields/website/restore", headers=hx)
    assert r.status_code == 200 and 'data-testid="undo"' not in r.get_data(as_text=True)
    with as_tenant(tenant_a):
        assert not fields_by_key(load_template())["website"].archived


def test_archiving_a_section_offers_undo(db, tenant_a, login, hx):
    r = login(tenant_a.owner).post("/template/sections/staff/archive", headers=hx)
    assert "/template/sections/staff/restore" in r.get_data(as_text=True)


def test_pasting_options_one_per_line_adds_them_all(db, tenant_a, login, hx, as_tenant):
    admin = login(tenant_a.owner)
    r = admin.post("/template/fields/industry/options", data={"option": "新能源\n\n  半导体 \n跨境电商\n"}, headers=hx)
    assert r.status_code == 200
    with as_tenant(tenant_a):
        options = fields_by_key(load_template())["industry"].options
        assert options[-3:] == ["新能源", "半导体", "跨境电商"]
    # a duplicate line refuses the whole paste
    r = admin.post("/template/fields/industry/options", data={"option": "光伏\n新能源"}, headers=hx)
    assert r.status_code == 422
    with as_tenant(tenant_a):
        assert "光伏" not in fields_by_key(load_template())["industry"].options
