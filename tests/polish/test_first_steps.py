"""The empty home page leads somewhere: first steps, each ticked off when done, gone once all are."""
import re

from app.card_templates import editing as ed
from tests import factories


def steps(browser):
    html = browser.get("/home").get_data(as_text=True)
    return dict(re.findall(r'data-testid="step-(\w+)" data-done="(\w+)"', html))


def test_a_new_owner_sees_the_first_steps_ticked_off_as_they_are_done(db, tenant_a, login, as_tenant):
    owner = login(tenant_a.owner)
    assert steps(owner) == {"template": "false", "client": "false", "invite": "false", "import": "false"}
    factories.client(tenant_a, "上海华光科技有限公司")
    assert steps(owner)["client"] == "true"
    r = owner.post("/team/invites", data={"email": "li@a.example", "role": "member"})
    assert r.status_code == 302
    assert steps(owner)["invite"] == "true"
    with as_tenant(tenant_a):
        ed.add_field(tenant_a.owner, "basic", {"label": "微信号", "type": "text"})
        db.session.commit()
    assert steps(owner) == {"template": "true", "client": "true", "invite": "true", "import": "false"}
    factories.client(tenant_a, "北京东方贸易有限公司")  # more than one card: the list is in
    assert steps(owner) == {}
    assert 'data-testid="first-steps"' not in owner.get("/home").get_data(as_text=True)


def test_members_see_only_their_step_and_viewers_none(db, tenant_a, login):
    member = factories.user(tenant_a, "m@a.example")
    viewer = factories.user(tenant_a, "v@a.example", role="viewer")
    assert steps(login(member)) == {"client": "false"}
    assert steps(login(viewer)) == {}
