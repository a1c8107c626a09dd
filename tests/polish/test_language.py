"""Both languages all the way: built-in stages in the reader's language while not renamed; one date-time format."""
import re

from tests import factories


def test_builtin_stages_are_english_for_english_readers_until_renamed(db, tenant_a, login):
    factories.client(tenant_a, "上海华光科技有限公司", stage="意向")
    owner = login(tenant_a.owner)
    owner.post("/lang/en", data={"next": "/clients/"})
    html = owner.get("/clients/").get_data(as_text=True)
    assert "Interested" in html and '<td class="stage">意向</td>' not in html
    assert 'value="意向"' in html  # the stored value stays what filters send
    owner.post("/lang/zh_CN", data={"next": "/clients/"})
    assert '<td class="stage">意向</td>' in owner.get("/clients/").get_data(as_text=True)


def test_one_date_time_format_on_the_list_and_the_history(db, tenant_a, login):
    c = factories.client(tenant_a, "上海华光科技有限公司")
    owner = login(tenant_a.owner)
    for lang in ("en", "zh_CN"):
        owner.post(f"/lang/{lang}", data={"next": "/clients/"})
        rows = owner.get("/clients/").get_data(as_text=True)
        history = owner.get(f"/clients/{c.id}/history").get_data(as_text=True)
        stamp = re.compile(r"\b20\d\d-\d\d-\d\d \d\d:\d\d\b")
        assert stamp.search(rows) and stamp.search(history), lang
        assert not re.search(r"\d{1,2}/\d{1,2}/\d{2}", rows + history)
