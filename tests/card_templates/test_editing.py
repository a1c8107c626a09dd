"""The template editing services: every operation, its errors, versions and the change log."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.card_templates import editing as ed
from app.card_templates.editing import TemplateError
from app.card_templates.models import TemplateChange
from app.card_templates.services import fields_by_key, load_template
from app.clients.models import ClientChange
from app.extensions import db

from tests.card_templates.helpers import assert_same, fill_cards, snapshot


def keys_of(section_key):
    t = load_template()
    s = next(s for s in t.sections if s.key == section_key)
    return [f.key for f in sorted(s.fields, key=lambda f: f.position) if not f.archived]


def last_change():
    return db.session.scalars(select(TemplateChange).order_by(TemplateChange.id.desc())).first()


def test_add_field_generates_stable_unique_keys(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        v = load_template().version
        fd = ed.add_field(tenant_a.owner, "basic", {"label": "微信号", "type": "text"})
        assert ed.KEY_RE.match(fd.key) and fd.key.startswith("field_")
        en = ed.add_field(tenant_a.owner, "basic", {"label": "微信", "label_en": "WeChat ID", "type": "text"})
        assert en.key == "wechat_id"
        again = ed.add_field(tenant_a.owner, "basic", {"label": "WeChat ID"})
        assert again.key == "wechat_id_2"
        assert load_template().version == v + 3
        assert last_change().action == "add_field" and last_change().actor_id == tenant_a.owner.id
        assert keys_of("basic")[-3:] == [fd.key, "wechat_id", "wechat_id_2"]
        # archived keys are never reused
        ed.archive_field(tenant_a.owner, "wechat_id")
        with pytest.raises(TemplateError) as e:
            ed.add_field(tenant_a.owner, "basic", {"label": "x", "key": "wechat_id"})
        assert "key" in e.value.errors
        assert ed.add_field(tenant_a.owner, "basic", {"label": "WeChat ID"}).key == "wechat_id_3"


@pytest.mark.parametrize("data,field", [
    ({"label": ""}, "label"),
    ({"label": "   "}, "label"),
    ({"label": "长" * 121}, "label"),
    ({"label": "ok", "type": "colour"}, "type"),
    ({"label": "ok", "key": "Bad-Key"}, "key"),
    ({"label": "ok", "key": "1abc"}, "key"),
    ({"label": "ok", "key": "name"}, "key"),
    ({"label": "ok", "key": "industry"}, "key"),
    ({"label": "ok", "type": "select", "options": [str(i) for i in range(201)]}, "options"),
    ({"label": "ok", "type": "select", "options": ["x" * 101]}, "options"),
    ({"label": "ok", "type": "select", "options": ["是", "是"]}, "options"),
    ({"label": "ok", "type": "text", "yearly_reminder": True}, "yearly_reminder"),
])
def test_add_field_rejects_bad_input(tenant_a, as_tenant, data, field):
    with as_tenant(tenant_a):
        before = load_template().version
        n = len(load_template().fields)
        with pytest.raises(TemplateError) as e:
            ed.add_field(tenant_a.owner, "basic", data)
        assert field in e.value.errors
        assert str(e.value.errors[field])
        db.session.rollback()
        assert load_template().version == before and len(load_template().fields) == n


def test_field_limit(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        t = load_template()
        active = sum(1 for f in t.fields if not f.archived)
        for i in range(ed.FIELDS_MAX - active):
            ed.add_field(tenant_a.owner, "basic", {"label": f"f{i}"})
        with pytest.raises(TemplateError) as e:
            ed.add_field(tenant_a.owner, "basic", {"label": "one too many"})
        assert "label" in e.value.errors


def test_unknown_section_and_field(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        with pytest.raises(TemplateError):
            ed.add_field(tenant_a.owner, "nope", {"label": "x"})
        for fn in (ed.archive_field, ed.restore_field):
            with pytest.raises(TemplateError):
                fn(tenant_a.owner, "nope")
        assert ed.get_field("nope") is None and ed.get_section("nope") is None


def test_update_field_and_english_label(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        v = load_template().version
        fd = ed.update_field(tenant_a.owner, "address", {"label": "办公地址", "hints": "在哪里办公?\n\n仓库在哪?",
                                                        "required": True, "sensitive": "on"})
        assert fd.label == "办公地址" and fd.hints == ["在哪里办公?", "仓库在哪?"] and fd.required and fd.sensitive
        assert "label" not in (fd.i18n.get("en") or {})  # the old English would show the old meaning
        ed.update_field(tenant_a.owner, "address", {"label_en": "Office address"})
        assert fd.i18n["en"]["label"] == "Office address"
        assert load_template().version == v + 2
        change = last_change()
        assert change.detail["before"]["label_en"] == "" and change.detail["after"]["label_en"] == "Office address"
        # nothing changed: no new version
        ed.update_field(tenant_a.owner, "address", {"label": "办公地址"})
        assert load_template().version == v + 2
        for data, name in (({"label": ""}, "label"), ({"key": "other"}, "key"), ({"section": "nope"}, "section"),
                           ({"hints": ["问" * 301]}, "hints"), ({"help": "x" * 1001}, "help"),
                           ({"options": ["a"]}, "options"), ({"columns": []}, "columns")):
            with pytest.raises(TemplateError) as e:
                ed.update_field(tenant_a.owner, "address", data)
            assert name in e.value.errors


def test_move_field_within_across_sections_and_to_index(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        basic = keys_of("basic")
        ed.move_field(tenant_a.owner, basic[1], direction="up")
        assert keys_of("basic")[:2] == [basic[1], basic[0]]
        # up from the top of a section goes to the end of the previous one
        staff = keys_of("staff")
        ed.move_field(tenant_a.owner, staff[0], direction="up")
        assert keys_of("basic")[-1] == staff[0] and keys_of("staff") == staff[1:]
        ed.move_field(tenant_a.owner, staff[0], direction="down")
        assert keys_of("staff") == staff
        ed.move_field(tenant_a.owner, "address", section_key="finance", index=0)
        assert keys_of("finance")[0] == "address" and "address" not in keys_of("basic")
        # the first field of the first section cannot go further up: no change, no version
        first = keys_of("basic")[0]
        v = load_template().version
        ed.move_field(tenant_a.owner, first, direction="up")
        assert load_template().version == v
        with pytest.raises(TemplateError):
            ed.move_field(tenant_a.owner, first)
        positions = [f.position for s in sorted(load_template().sections, key=lambda s: s.position)
                     for f in sorted(s.fields, key=lambda f: f.position)]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)


def test_sections(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        s = ed.add_section(tenant_a.owner, "售后服务", label_en="After-sales")
        assert s.key == "after_sales"
        assert ed.add_section(tenant_a.owner, "售后").key.startswith("section_")
        with pytest.raises(TemplateError) as e:
            ed.add_section(tenant_a.owner, "")
        assert "label" in e.value.errors
        with pytest.raises(TemplateError):
            ed.add_section(tenant_a.owner, "x", key="basic")
        ed.rename_section(tenant_a.owner, "after_sales", "售后与维修")
        assert ed.get_section("after_sales").label == "售后与维修"
        order = [x.key for x in sorted(load_template().sections, key=lambda x: x.position)]
        ed.move_section(tenant_a.owner, "after_sales", direction="up")
        new = [x.key for x in sorted(load_template().sections, key=lambda x: x.position)]
        assert new.index("after_sales") == order.index("after_sales") - 1
        ed.move_section(tenant_a.owner, "after_sales", index=0)
        assert sorted(load_template().sections, key=lambda x: x.position)[0].key == "after_sales"


def test_archive_and_restore_section_keeps_individually_archived_fields(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        staff = keys_of("staff")
        ed.archive_field(tenant_a.owner, staff[0])
        ed.archive_section(tenant_a.owner, "staff")
        assert all(fields_by_key(load_template())[k].archived for k in staff)
        with pytest.raises(TemplateError):
            ed.restore_field(tenant_a.owner, staff[1])  # its section is archived
        with pytest.raises(TemplateError):
            ed.add_field(tenant_a.owner, "staff", {"label": "x"})
        ed.restore_section(tenant_a.owner, "staff")
        fields = fields_by_key(load_template())
        assert fields[staff[0]].archived and not any(fields[k].archived for k in staff[1:])


def test_options_add_rename_move_retire_restore(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        cards = fill_cards(tenant_a)
        before = snapshot()
        fd = ed.add_option(tenant_a.owner, "payment_attitude", "准时", option_en="On time")
        assert fd.options[-1] == "准时" and fd.i18n["en"]["options"]["准时"] == "On time"
        for bad, name in (("", "option"), ("爽快", "option"), ("x" * 101, "option")):
            with pytest.raises(TemplateError) as e:
                ed.add_option(tenant_a.owner, "payment_attitude", bad)
            assert name in e.value.errors
        with pytest.raises(TemplateError):
            ed.add_option(tenant_a.owner, "address", "x")  # not a choice field
        # rename rewrites the cards and records it in each card's history
        n = ed.rename_option(tenant_a.owner, "payment_attitude", "爽快", "痛快")
        assert n == 2
        db.session.commit()
        after = snapshot()
        assert_same(before, after, except_keys=("payment_attitude",))
        assert after[cards[0].id]["payment_attitude"] == "痛快" and after[cards[1].id]["payment_attitude"] == "迟缓"
        history = db.session.scalars(select(ClientChange).where(ClientChange.client_id == cards[0].id,
                                                                ClientChange.action == "template")).all()
        assert history[-1].changes["payment_attitude"] == {"from": "爽快", "to": "痛快"}
        assert last_change().detail["cards"] == 2
        with pytest.raises(TemplateError) as e:
            ed.rename_option(tenant_a.owner, "payment_attitude", "痛快", "迟缓")
        assert "new" in e.value.errors
        # reorder
        ed.move_option(tenant_a.owner, "payment_attitude", "准时", direction="up")
        assert fields_by_key(load_template())["payment_attitude"].options[-2] == "准时"
        with pytest.raises(TemplateError):
            ed.reorder_options(tenant_a.owner, "payment_attitude", ["痛快"])
        # retire an unused option: gone
        r = ed.retire_option(tenant_a.owner, "payment_attitude", "准时")
        assert r == {"cards": 0, "moved": 0, "kept": False}
        fd = fields_by_key(load_template())["payment_attitude"]
        assert "准时" not in fd.options and "准时" not in fd.retired_options
        # retire a used option and keep it: old cards stay valid, new cards cannot choose it
        r = ed.retire_option(tenant_a.owner, "payment_attitude", "迟缓")
        assert r["kept"] and r["cards"] == 1
        assert "迟缓" in fd.retired_options
        db.session.commit()
        assert snapshot()[cards[1].id]["payment_attitude"] == "迟缓"
        from app.clients.services import update_client
        from app.values import InvalidValue, parse_value
        with pytest.raises(InvalidValue):  # the value library refuses it unless retired options are allowed
            parse_value("select", "迟缓", fd.spec())
        # a card holding the retired option can still be saved with it
        c1 = db.session.get(type(cards[1]), cards[1].id)
        update_client(tenant_a.owner, c1, version=c1.version, fields={"payment_attitude": "迟缓", "staff_total": "9"})
        db.session.commit()
        ed.restore_option(tenant_a.owner, "payment_attitude", "迟缓")
        assert "迟缓" in fd.options and "迟缓" not in fd.retired_options
        # retire a used option moving its cards to another
        with pytest.raises(TemplateError):
            ed.retire_option(tenant_a.owner, "payment_attitude", "痛快", move_to="痛快")
        r = ed.retire_option(tenant_a.owner, "payment_attitude", "痛快", move_to="一般")
        assert r["moved"] == 2
        db.session.commit()
        values = snapshot()
        assert values[cards[0].id]["payment_attitude"] == "一般" and values[cards[2].id]["payment_attitude"] == "一般"


def test_update_field_options_list_keeps_used_options_retired(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        fill_cards(tenant_a)
        before = snapshot()
        ed.update_field(tenant_a.owner, "bank_credit", {"options": ["很好", "好"]})
        fd = fields_by_key(load_template())["bank_credit"]
        assert fd.options == ["很好", "好"] and fd.retired_options == ["一般"]
        db.session.commit()
        assert_same(before, snapshot())


def test_change_type_allowed_and_blocked(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        cards = fill_cards(tenant_a)
        before = snapshot()
        # "abc-123" and the Shanghai address are not numbers: blocked, nothing changes
        with pytest.raises(TemplateError) as e:
            ed.change_type(tenant_a.owner, "address", "number")
        message = str(e.value.errors["type"])
        assert cards[0].number in message and "上海华光科技有限公司" in message and "北京远景贸易公司" in message
        assert {b["id"] for b in e.value.blocking} == {cards[0].id, cards[1].id}
        db.session.rollback()
        assert fields_by_key(load_template())["address"].type == "text"
        # number -> money converts every value
        n = ed.change_type(tenant_a.owner, "staff_total", "money")
        assert fields_by_key(load_template())["staff_total"].type == "money"
        db.session.commit()
        assert_same(before, snapshot(), except_keys=("staff_total",))
        assert snapshot()[cards[0].id]["staff_total"] == 120
        # text -> select: the stored values become the options
        ed.change_type(tenant_a.owner, "website", "select")
        fd = fields_by_key(load_template())["website"]
        assert fd.options == ["https://www.huaguang.cn"]
        db.session.commit()
        # money -> text always converts
        n = ed.change_type(tenant_a.owner, "registered_capital", "text")
        assert n == 2
        db.session.commit()
        assert snapshot()[cards[1].id]["registered_capital"] == "¥120,000,000"
        with pytest.raises(TemplateError):
            ed.change_type(tenant_a.owner, "address", "colour")
        with pytest.raises(TemplateError):
            ed.change_type(tenant_a.owner, "key_contacts", "text")  # a table to text works, but...
            ed.change_type(tenant_a.owner, "address", "table")  # ...a filled text field cannot become a table


def test_table_columns(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        fill_cards(tenant_a)
        before = snapshot()
        fd = fields_by_key(load_template())["key_contacts"]
        cols = [dict(c) for c in fd.columns]
        # a column holding values cannot be removed
        with pytest.raises(TemplateError) as e:
            ed.set_columns(tenant_a.owner, "key_contacts", [c for c in cols if c["key"] != "name"])
        assert "columns" in e.value.errors
        # an unused column can; new columns get a key; relabel and reorder keep values
        unused = next(c for c in cols if c["key"] not in ("name", "department"))
        new = [c for c in cols if c is not unused]
        new[0] = {**new[0], "label": "联系人"}
        new.reverse()
        new.append({"label": "WeChat", "type": "text"})
        ed.set_columns(tenant_a.owner, "key_contacts", new)
        fd = fields_by_key(load_template())["key_contacts"]
        assert fd.columns[-1]["key"] == "wechat" and fd.columns[-2]["label"] == "联系人"
        db.session.commit()
        assert_same(before, snapshot())
        with pytest.raises(TemplateError):
            ed.set_columns(tenant_a.owner, "address", new)
        with pytest.raises(TemplateError):
            ed.set_columns(tenant_a.owner, "key_contacts", [{"label": "x", "type": "table"}])


def test_merge_sections_from_builtin(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        fill_cards(tenant_a)
        before = snapshot()
        existing = {k: ed.field_snapshot(f) for k, f in fields_by_key(load_template()).items()}
        result = ed.merge_sections_from_builtin(tenant_a.owner, "key_account_person", ["basic", "lifestyle"])
        assert result["sections"][0] == "basic_2" and "lifestyle" in result["sections"]
        assert result["fields"]
        t = load_template()
        for key, snap in existing.items():  # existing fields untouched
            assert ed.field_snapshot(fields_by_key(t)[key]) == snap
        assert set(result["skipped"]) <= set(existing)
        db.session.commit()
        assert_same(before, snapshot())
        with pytest.raises(TemplateError):
            ed.merge_sections_from_builtin(tenant_a.owner, "nope", ["basic"])
        with pytest.raises(TemplateError):
            ed.merge_sections_from_builtin(tenant_a.owner, "key_account_person", [])
        with pytest.raises(TemplateError):  # everything is already there now
            ed.merge_sections_from_builtin(tenant_a.owner, "key_account_person", ["lifestyle"])


def test_change_log_describes_every_change(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        fill_cards(tenant_a)
        ed.add_section(tenant_a.owner, "售后")
        ed.add_field(tenant_a.owner, "basic", {"label": "微信"})
        ed.rename_option(tenant_a.owner, "bank_credit", "很好", "优")
        ed.change_type(tenant_a.owner, "staff_total", "text")
        ed.archive_field(tenant_a.owner, "staff_total")
        changes = ed.recent_changes()
        versions = [c.version for c in changes]
        assert versions == sorted(versions, reverse=True) and versions[-1] == 1
        assert len(set(versions)) == len(versions)
        texts = [ed.describe_change(c) for c in changes]
        assert all(texts) and any("优" in t for t in texts)
