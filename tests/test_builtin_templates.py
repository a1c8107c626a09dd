"""The built-in card templates (app/card_templates/builtin/*.json) follow the template format rules.

Runs without fixtures: ``.venv/bin/pytest tests/test_builtin_templates.py --noconftest``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.card_templates.builtin import BUILTIN_KEYS, DEFAULT_KEY, builtin_choices, load_builtin

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "app" / "card_templates" / "builtin"
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TYPES = {"text", "textarea", "number", "money", "date", "select", "multiselect", "boolean",
         "phone", "email", "url", "person", "table"}
OPTION_TYPES = {"select", "multiselect"}
FIELD_KEYS = {"key", "label", "label_en", "type", "required", "sensitive", "in_brief", "identifier",
              "yearly_reminder", "help", "help_en", "hints", "hints_en", "options", "options_en", "columns"}
COLUMN_KEYS = {"key", "label", "label_en", "type", "options", "options_en"}
BOOL_FLAGS = ("required", "sensitive", "in_brief", "identifier", "yearly_reminder")

# Words in a label (or a table column label) that mean sensitive personal information under PIPL.
SENSITIVE_WORDS = ("健康", "身体", "宗教", "政治", "政党", "党派", "家庭住址", "机密", "身份证", "婚姻",
                   "配偶", "子女", "父母", "亲属", "结婚", "收入", "经济状况", "族别", "民族", "住宅电话",
                   "电话(宅)", "家庭结构", "拥有物业", "身高", "体重")
YEARLY_WORDS = ("生日", "出生年月日", "结婚纪念日", "成立时间")

EXPECTED_SECTIONS = {
    "key_account_company": {"basic", "products", "finance", "person_in_charge", "contacts", "work_relations",
                            "family", "needs", "competition"},
    "key_account_person": {"basic", "education", "family", "career", "social", "lifestyle", "character",
                           "client_and_you"},
    "relationship": {"basic", "needs", "classification"},
    "real_estate_visitor": {"visit", "background", "needs", "reception"},
    "telesales": {"contact", "company", "call", "needs"},
}


def all_fields(t):
    return [f for s in t["sections"] for f in s["fields"]]


def field(t, key):
    return next(f for f in all_fields(t) if f["key"] == key)


@pytest.fixture(params=BUILTIN_KEYS)
def tpl(request):
    return load_builtin(request.param)


def test_registry():
    assert BUILTIN_KEYS[0] == DEFAULT_KEY == "relationship"
    assert len(set(BUILTIN_KEYS)) == 5
    assert sorted(p.stem for p in BUILTIN_DIR.glob("*.json")) == sorted(BUILTIN_KEYS)
    choices = builtin_choices()
    assert [c[0] for c in choices] == list(BUILTIN_KEYS)
    assert choices[0][1] == "客户资料管理与关系维护表"
    assert all(zh and en for _, zh, en in choices)
    with pytest.raises(KeyError):
        load_builtin("no_such_template")


def test_load_is_cached_but_safe_to_mutate():
    a = load_builtin(DEFAULT_KEY)
    a["sections"].clear()
    assert load_builtin(DEFAULT_KEY)["sections"]


def test_files_are_plain_utf8_json():
    for key in BUILTIN_KEYS:
        raw = (BUILTIN_DIR / f"{key}.json").read_text(encoding="utf-8")
        assert json.loads(raw) == load_builtin(key)


def test_header(tpl):
    assert set(tpl) == {"format", "key", "name", "name_en", "description", "description_en", "sections"}
    assert tpl["format"] == "clientcard.template/1"
    assert tpl["key"] in BUILTIN_KEYS
    for k in ("name", "name_en", "description", "description_en"):
        assert isinstance(tpl[k], str) and tpl[k].strip()


def test_keys_unique_and_slugs(tpl):
    section_keys = [s["key"] for s in tpl["sections"]]
    assert len(section_keys) == len(set(section_keys))
    field_keys = [f["key"] for f in all_fields(tpl)]
    assert len(field_keys) == len(set(field_keys)), "field keys must be unique across sections"
    for k in section_keys + field_keys:
        assert KEY_RE.match(k), k
    for s in tpl["sections"]:
        assert set(s) == {"key", "label", "label_en", "fields"}
        assert s["label"].strip() and s["label_en"].strip()
        assert s["fields"], s["key"]


def test_sizes(tpl):
    fields = all_fields(tpl)
    assert 20 <= len(fields) <= 150
    for f in fields:
        assert len(f["label"]) <= 60 and len(f["label_en"]) <= 60, f["key"]
        assert len(f["options"]) <= 50, f["key"]


def test_expected_sections(tpl):
    assert EXPECTED_SECTIONS[tpl["key"]] <= {s["key"] for s in tpl["sections"]}


def test_field_shape(tpl):
    for f in all_fields(tpl):
        assert set(f) == FIELD_KEYS, f["key"]
        assert f["type"] in TYPES, f["key"]
        for flag in BOOL_FLAGS:
            assert isinstance(f[flag], bool), (f["key"], flag)
        for k in ("label", "label_en", "help", "help_en"):
            assert isinstance(f[k], str), (f["key"], k)
        assert f["label"].strip() and f["label_en"].strip(), f["key"]
        assert bool(f["help"]) == bool(f["help_en"]), f["key"]
        assert len(f["hints"]) == len(f["hints_en"]), f["key"]
        assert all(isinstance(h, str) and h.strip() for h in f["hints"] + f["hints_en"]), f["key"]
        assert all(re.search(r"[\u4e00-\u9fff]", h) for h in f["hints"]), f["key"]
        assert not any(re.search(r"[\u4e00-\u9fff]", h) for h in f["hints_en"]), f["key"]
        assert not re.search(r"[\u4e00-\u9fff]", f["label_en"]), f["key"]


def check_options(owner, type_, options, options_en):
    if type_ in OPTION_TYPES:
        assert options, f"{owner}: select needs options"
        assert len(options) == len(options_en), owner
        assert len(set(options)) == len(options), f"{owner}: duplicate options"
        assert len(set(options_en)) == len(options_en), f"{owner}: duplicate English options"
        assert all(isinstance(o, str) and o.strip() for o in options + options_en), owner
    else:
        assert options == [] and options_en == [], f"{owner}: only select types have options"


def test_options_and_columns(tpl):
    for f in all_fields(tpl):
        check_options(f["key"], f["type"], f["options"], f["options_en"])
        if f["type"] == "table":
            assert f["columns"], f"{f['key']}: table needs columns"
            col_keys = [c["key"] for c in f["columns"]]
            assert len(col_keys) == len(set(col_keys)), f["key"]
            for c in f["columns"]:
                assert set(c) == COLUMN_KEYS, (f["key"], c)
                assert KEY_RE.match(c["key"]), (f["key"], c["key"])
                assert c["type"] in TYPES - {"table"}, (f["key"], c["key"])
                assert c["label"].strip() and c["label_en"].strip(), (f["key"], c["key"])
                assert len(c["label"]) <= 60
                check_options(f"{f['key']}.{c['key']}", c["type"], c["options"], c["options_en"])
        else:
            assert f["columns"] == [], f"{f['key']}: only tables have columns"


def test_sensitive_fields_are_flagged(tpl):
    for f in all_fields(tpl):
        labels = [f["label"]] + [c["label"] for c in f["columns"]]
        hits = [w for w in SENSITIVE_WORDS for label in labels if w in label]
        if hits:
            assert f["sensitive"], f"{tpl['key']}.{f['key']} mentions {hits} but is not sensitive"


def test_brief_and_required_are_few_and_never_sensitive(tpl):
    fields = all_fields(tpl)
    brief = [f for f in fields if f["in_brief"]]
    required = [f for f in fields if f["required"]]
    assert 3 <= len(brief) <= 15, [f["key"] for f in brief]
    assert 1 <= len(required) <= 4, [f["key"] for f in required]
    for f in brief + required:
        assert not f["sensitive"], f["key"]
    assert any(f["type"] == "phone" for f in brief)
    assert any(f["type"] == "phone" and f["required"] for f in fields)


def test_identifiers(tpl):
    ids = [f for f in all_fields(tpl) if f["identifier"]]
    assert ids
    for f in ids:
        assert not f["sensitive"] and f["type"] in {"text", "phone"}, f["key"]


def test_yearly_reminders(tpl):
    for f in all_fields(tpl):
        if f["yearly_reminder"]:
            assert f["type"] == "date", f["key"]
        elif f["type"] == "date" and any(w in f["label"] for w in YEARLY_WORDS):
            pytest.fail(f"{f['key']} ({f['label']}) should carry a yearly reminder")


def test_question_bank_is_used(tpl):
    hinted = [f for f in all_fields(tpl) if f["hints"]]
    assert len(hinted) >= 8
    hints = {h for f in hinted for h in f["hints"]}
    assert "除了您做决策以外,还有谁参与决策过程?" in hints
    assert any("理想中的方案" in h for h in hints)


def test_company_sheet():
    t = load_builtin("key_account_company")
    labels = {f["label"] for f in all_fields(t)}
    assert not {"客户名称", "公司名称", "公司全称", "客户单位名称"} & labels  # the client name is separate
    credit = field(t, "credit_code")
    assert credit["identifier"] and credit["label"] == "统一社会信用代码"
    assert field(t, "industry")["type"] == "select" and field(t, "industry")["required"]
    assert field(t, "company_size")["type"] == "select"
    assert field(t, "founded_on")["type"] == "date" and field(t, "founded_on")["yearly_reminder"]
    assert field(t, "registered_capital")["type"] == "money"
    assert field(t, "website")["type"] == "url"
    assert field(t, "payment_attitude")["options"] == ["爽快", "一般", "迟缓", "为难", "嗜欠耗款"]
    assert field(t, "bank_credit")["options"] == ["很好", "好", "一般", "差", "很差"]
    assert field(t, "peer_credit")["options"] == ["很好", "好", "一般", "差", "很差"]
    assert field(t, "funding_status")["options"] == ["充足", "一般", "不足", "紧张"]
    assert field(t, "pic_character")["options"] == ["温柔", "开朗", "古怪", "自大"]
    assert field(t, "pic_temperament")["options"] == ["稳重", "寡言", "急躁", "饶舌"]
    assert field(t, "pic_marital_status")["sensitive"]
    contacts = field(t, "key_contacts")
    assert contacts["type"] == "table" and contacts["in_brief"] and not contacts["sensitive"]
    col_labels = {c["label"] for c in contacts["columns"]}
    assert {"姓名", "职务", "办公电话", "移动电话", "邮箱", "生日", "爱好"} <= col_labels
    for key in ("superiors", "assistants"):
        assert field(t, key)["type"] == "table" and not field(t, key)["sensitive"]
    for key in ("spouse", "children", "parents", "other_relatives"):
        assert field(t, key)["type"] == "table" and field(t, key)["sensitive"]


def test_person_card():
    t = load_builtin("key_account_person")
    assert len(all_fields(t)) >= 85
    for key in ("home_address", "health", "religion", "political_party", "confidential_matters",
                "marital_status", "spouse_name", "children", "wedding_anniversary"):
        assert field(t, key)["sensitive"], key
    assert field(t, "birth_date")["yearly_reminder"] and field(t, "wedding_anniversary")["yearly_reminder"]
    assert field(t, "hobbies")["type"] == "multiselect"
    assert field(t, "smokes")["type"] == "boolean"


def test_relationship_form():
    t = load_builtin("relationship")
    assert field(t, "budget_range")["type"] == "text"
    assert field(t, "info_source")["type"] == "select"
    assert field(t, "industry")["options"] == ["制造业", "服务业", "科技业", "零售业", "其他"]
    assert field(t, "need_type")["options"] == ["产品采购", "技术服务", "解决方案", "咨询合作"]
    assert field(t, "stage")["options"] == ["潜在客户", "意向客户", "成交客户", "长期合作客户"]
    assert field(t, "client_number")["identifier"]


def test_real_estate_card():
    t = load_builtin("real_estate_visitor")
    assert field(t, "first_visit_date")["type"] == "date"
    assert field(t, "purchase_purpose")["options"] == ["自己住", "与父母同住", "为父母买房", "为子女买房", "投资"]
    assert field(t, "housing_type")["options"] == ["福利分房", "自建", "商品房", "租赁"]
    for key in ("id_number", "family_structure", "economic_status"):
        assert field(t, key)["sensitive"], key
    assert field(t, "area_sqm")["type"] == "number"


def test_telesales_card():
    t = load_builtin("telesales")
    assert field(t, "call_direction")["options"] == ["来电", "去电"]
    assert field(t, "next_call_at")["type"] == "date"
    assert field(t, "decision_maker")["type"] == "text"  # the client's decision maker, not a colleague
    assert field(t, "intent_level")["type"] == "select"
