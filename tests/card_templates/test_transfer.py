"""Export and import of templates, and the no-data-loss property over random editor operations."""
from __future__ import annotations

import json
import random

import pytest

from app.card_templates import editing as ed
from app.card_templates.builtin import load_builtin
from app.card_templates.editing import TemplateError
from app.card_templates.services import fields_by_key, load_template
from app.card_templates.transfer import export_template, import_template
from app.extensions import db

from tests.card_templates.helpers import assert_same, fill_cards, snapshot


def test_export_round_trips_with_archived_fields_and_retired_options(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        fill_cards(tenant_a)
        ed.archive_field(tenant_a.owner, "fax")
        ed.retire_option(tenant_a.owner, "payment_attitude", "迟缓")
        data = export_template()
        assert data["format"] == "clientcard.template/1"
        fields = {f["key"]: f for s in data["sections"] for f in s["fields"]}
        assert fields["fax"]["archived"] is True
        assert fields["payment_attitude"]["retired_options"] == ["迟缓"]
        assert fields["industry"]["label_en"] == "Industry"
        json.dumps(data)
        before = snapshot()
        v = load_template().version
        summary = import_template(tenant_a.owner, json.dumps(data, ensure_ascii=False).encode())
        assert summary["added"] == [] and summary["archived"] == [] and summary["updated"] == []
        assert load_template().version == v + 1
        assert export_template()["sections"] == data["sections"]
        db.session.commit()
        assert_same(before, snapshot())


def test_import_missing_fields_are_archived_not_deleted(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        cards = fill_cards(tenant_a)
        before = snapshot()
        data = export_template()
        basic = data["sections"][0]
        basic["fields"] = [f for f in basic["fields"] if f["key"] not in ("address", "industry")]
        basic["fields"].append({"key": "wechat", "label": "微信", "type": "text"})
        data["sections"] = [s for s in data["sections"] if s["key"] != "finance"]
        pay = next(f for s in data["sections"] for f in s["fields"] if f["key"] == "staff_total")
        pay["type"] = "money"
        summary = import_template(tenant_a.owner, data)
        assert summary["added"] == ["wechat"]
        assert {"address", "industry"} <= set(summary["archived"]) and "finance" in summary["sections_archived"]
        fields = fields_by_key(load_template())
        assert fields["address"].archived and fields["bank_credit"].archived and fields["staff_total"].type == "money"
        db.session.commit()
        assert_same(before, snapshot(), except_keys=("staff_total",))
        # importing the full template again brings everything back, values intact
        ed.restore_section(tenant_a.owner, "finance")
        full = export_template()
        for s in full["sections"]:
            for f in s["fields"]:
                f.pop("archived", None)
        import_template(tenant_a.owner, full)
        assert not fields_by_key(load_template())["address"].archived
        db.session.commit()
        assert snapshot()[cards[0].id]["address"] == before[cards[0].id]["address"]


def _errors(raw):
    with pytest.raises(TemplateError) as e:
        import_template(None, raw)
    return " | ".join(str(m) for m in e.value.errors.values())


def test_import_validation(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        v = load_template().version
        assert "JSON" in _errors(b"{not json")
        assert "ClientCard" in _errors(b"[1, 2]")
        assert "format" in _errors(json.dumps({"sections": []}))
        base = load_builtin("relationship")
        bad = json.loads(json.dumps(base))
        bad["sections"][0]["fields"][0]["type"] = "colour"
        assert "colour" in _errors(bad)
        bad = json.loads(json.dumps(base))
        bad["sections"][1]["fields"][0]["key"] = bad["sections"][0]["fields"][0]["key"]
        assert "already used" in _errors(bad)
        bad = json.loads(json.dumps(base))
        bad["sections"][0]["fields"][0]["label"] = "长" * 200
        assert "120" in _errors(bad)
        bad = json.loads(json.dumps(base))
        bad["sections"][0]["fields"].append({"key": "many", "label": "多", "type": "select",
                                             "options": [str(i) for i in range(250)]})
        assert "200" in _errors(bad)
        bad = json.loads(json.dumps(base))
        bad["sections"][0]["fields"] += [{"key": f"f{i}", "label": f"f{i}"} for i in range(300)]
        assert "300" in _errors(bad)
        bad = json.loads(json.dumps(base))
        bad["sections"][0]["fields"].append({"key": "t", "label": "表", "type": "table",
                                             "columns": [{"label": "x", "type": "table"}]})
        assert "table" in _errors(bad)
        db.session.rollback()
        assert load_template().version == v


def test_import_blocked_type_change_writes_nothing(tenant_a, as_tenant):
    with as_tenant(tenant_a):
        cards = fill_cards(tenant_a)
        data = export_template()
        addr = next(f for s in data["sections"] for f in s["fields"] if f["key"] == "address")
        addr["type"] = "number"
        data["sections"][0]["fields"].append({"key": "wechat", "label": "微信"})
        message = _errors(data)
        assert cards[0].number in message
        db.session.rollback()
        assert "wechat" not in fields_by_key(load_template())


@pytest.mark.parametrize("key", ["key_account_person", "relationship", "real_estate_visitor", "telesales"])
def test_import_another_builtin_keeps_every_value(tenant_a, as_tenant, key):
    with as_tenant(tenant_a):
        fill_cards(tenant_a)
        before = snapshot()
        import_template(tenant_a.owner, load_builtin(key))
        db.session.commit()
        after = snapshot()
        # keys shared with the other template may change type only when their values convert
        assert set(before) == set(after)
        for cid, values in before.items():
            assert set(values) <= set(after[cid])


@pytest.mark.parametrize("seed", range(6))
def test_random_editor_operations_never_lose_a_value(tenant_a, as_tenant, seed):
    """Random sequences of editor operations: every card keeps every value (renamed options mapped)."""
    rng = random.Random(seed)
    with as_tenant(tenant_a):
        fill_cards(tenant_a)
        expected = snapshot()
        owner = tenant_a.owner
        for _step in range(25):
            t = load_template()
            fields = [f for f in t.fields]
            fd = rng.choice(fields)
            sections = [s.key for s in t.sections]
            op = rng.choice(["rename", "move", "move_to", "archive", "restore", "add", "section_archive",
                             "section_restore", "option_rename", "option_retire", "option_add", "to_text",
                             "merge", "import_roundtrip"])
            try:
                if op == "rename":
                    ed.update_field(owner, fd.key, {"label": f"标签{rng.randint(0, 999)}"})
                elif op == "move":
                    ed.move_field(owner, fd.key, direction=rng.choice(["up", "down"]))
                elif op == "move_to":
                    ed.move_field(owner, fd.key, section_key=rng.choice(sections), index=rng.randint(0, 5))
                elif op == "archive":
                    ed.archive_field(owner, fd.key)
                elif op == "restore":
                    ed.restore_field(owner, fd.key)
                elif op == "add":
                    ed.add_field(owner, rng.choice(sections),
                                 {"label": "New", "type": rng.choice(list(ed.FIELD_TYPES))})
                elif op == "section_archive":
                    ed.archive_section(owner, rng.choice(sections))
                elif op == "section_restore":
                    ed.restore_section(owner, rng.choice(sections))
                elif op == "option_rename" and fd.type in ed.OPTION_TYPES and fd.options:
                    old = rng.choice(fd.options)
                    new = f"{old}#{rng.randint(0, 99)}"
                    ed.rename_option(owner, fd.key, old, new)
                    for values in expected.values():
                        v = values.get(fd.key)
                        if v == old:
                            values[fd.key] = new
                        elif isinstance(v, list):
                            values[fd.key] = [new if x == old else x for x in v]
                elif op == "option_retire" and fd.type in ed.OPTION_TYPES and fd.options:
                    ed.retire_option(owner, fd.key, rng.choice(fd.options))
                elif op == "option_add" and fd.type in ed.OPTION_TYPES:
                    ed.add_option(owner, fd.key, f"新{rng.randint(0, 999)}")
                elif op == "to_text" and fd.type not in ("table", "textarea"):
                    ed.change_type(owner, fd.key, "textarea")
                    for values in expected.values():
                        values.pop(fd.key, None)  # converted: checked for presence below
                elif op == "merge":
                    ed.merge_sections_from_builtin(owner, "key_account_person", ["basic"])
                elif op == "import_roundtrip":
                    import_template(owner, export_template())
            except TemplateError:
                db.session.rollback()
                continue
            db.session.commit()
            after = snapshot()
            for cid, values in expected.items():
                for key, value in values.items():
                    assert after[cid].get(key) == value, (op, cid, key)
            for cid in after:  # converted values are still there
                assert set(after[cid]) >= set(expected[cid])
        assert load_template().version > 1
