"""Tests of app.values: examples for every Chinese input format plus hypothesis properties."""
from __future__ import annotations

import datetime as dt
import json
import string
import unicodedata
from decimal import Decimal

import pytest
from flask import Flask
from flask_babel import Babel
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.values import (
    FIELD_TYPES,
    InvalidValue,
    convert_value,
    display_value,
    is_empty,
    normalize_company_name,
    normalize_text,
    parse_value,
    phone_digits,
    search_text,
)

FAST = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
QUICK = settings(max_examples=60, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def babel_app():
    app = Flask(__name__)
    Babel(app)
    return app


def fullwidth(s: str) -> str:
    """ASCII -> full-width forms (space -> ideographic space)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in s)


def fullwidth_alnum(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else ("\u3000" if c == " " else c)
                   for c in s)


def msg(e: InvalidValue, app) -> str:
    with app.test_request_context():
        return str(e.message)


LEVELS = ["重要客户", "普通客户", "VIP", "潜在客户"]
CHANNELS = ["电话", "微信", "邮件", "上门拜访"]
TABLE_SPEC = {
    "columns": [
        {"key": "name", "label": "姓名", "type": "text"},
        {"key": "phone", "label": "电话", "type": "phone"},
        {"key": "amount", "label": "金额", "type": "money"},
        {"key": "since", "label": "日期", "type": "date"},
        {"key": "level", "label": "级别", "type": "select", "options": LEVELS},
        {"key": "active", "label": "有效", "type": "boolean"},
    ]
}
PERSON_SPEC = {"person_ids": {1, 2, 3}, "person_names": {1: "张三", 2: "李四", 3: "Wang Wu"}}

SPECS = {
    "select": {"options": LEVELS, "retired_options": ["老客户"]},
    "multiselect": {"options": CHANNELS, "retired_options": ["传真"]},
    "table": TABLE_SPEC,
    "person": PERSON_SPEC,
}


def spec_for(t):
    return SPECS.get(t, {})


# ---------------------------------------------------------------------------
# examples


def test_field_types():
    assert tuple(FIELD_TYPES) == ("text", "textarea", "number", "money", "date", "select", "multiselect", "boolean",
                                  "phone", "email", "url", "person", "table")


@pytest.mark.parametrize("t", FIELD_TYPES)
@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000", [], {}, "\n\t"])
def test_empty_input_is_none(t, raw):
    assert parse_value(t, raw, spec_for(t)) is None
    assert display_value(t, None, spec_for(t)) == ""


def test_unknown_type():
    with pytest.raises(ValueError):
        parse_value("colour", "red")


def test_is_empty():
    assert is_empty(None) and is_empty("") and is_empty("  ") and is_empty([]) and is_empty({})
    assert is_empty([{}]) and is_empty({"a": ""})
    assert not is_empty(0) and not is_empty(False) and not is_empty("0") and not is_empty([0])


def test_normalize_text():
    assert normalize_text("  ＡＢＣ　１２３  x\n y ") == "ABC 123 x y"
    assert normalize_text(None) == ""


def test_text():
    assert parse_value("text", "  上海华光科技，你好  ") == "上海华光科技，你好"  # Chinese punctuation kept
    assert parse_value("text", "ＡＢＣ１２３　公司") == "ABC123 公司"  # full-width letters/digits/space
    assert parse_value("text", "a\n b\t c") == "a b c"
    assert parse_value("text", 123) == "123"
    assert parse_value("text", 1.5) == "1.5"
    assert parse_value("text", dt.date(2024, 6, 30)) == "2024-06-30"
    assert parse_value("text", "（北京）") == "（北京）"
    with pytest.raises(InvalidValue):
        parse_value("text", "x" * 2001)
    with pytest.raises(InvalidValue):
        parse_value("text", "x" * 11, {"max_length": 10})
    assert parse_value("text", "x" * 2000) == "x" * 2000
    with pytest.raises(InvalidValue):
        parse_value("text", ["a"])


def test_textarea():
    assert parse_value("textarea", "  第一行\r\n第二行\r第三行  ") == "第一行\n第二行\n第三行"
    assert parse_value("textarea", "ｆｏｏ\n\nｂａｒ") == "foo\n\nbar"
    assert parse_value("textarea", "x" * 20000) == "x" * 20000
    with pytest.raises(InvalidValue):
        parse_value("textarea", "x" * 20001)


@pytest.mark.parametrize("raw,expected", [
    ("1234", 1234), ("1,234", 1234), ("1,234.5", 1234.5), ("１２３", 123), ("１，２３４．５", 1234.5),
    ("1.5万", 15000), ("2亿", 200000000), ("3千", 3000), ("1.2千万", 12000000), ("3.5k", 3500), ("5w", 50000),
    ("-3", -3), ("－３", -3), ("−3", -3), ("+7", 7), ("0.25", 0.25), (".5", 0.5), ("1e3", 1000),
    (" 50 万 ", 500000), (12, 12), (12.0, 12), (2.5, 2.5), (Decimal("3.50"), 3.5), ("0", 0), ("-0", 0),
])
def test_number_examples(raw, expected):
    v = parse_value("number", raw)
    assert v == expected and type(v) is type(expected)


@pytest.mark.parametrize("raw", ["abc", "12%", "1,23", "1.2.3", "nan", "inf", float("nan"), float("inf"), True,
                                 "万", "1e999", "10" * 20, "１２ab", [1], "1/2"])
def test_number_rejects(raw):
    with pytest.raises(InvalidValue):
        parse_value("number", raw)


def test_number_display():
    assert display_value("number", 1234567) == "1,234,567"
    assert display_value("number", 1234.5) == "1,234.5"
    assert display_value("number", 0.00001) == "0.00001"
    assert display_value("number", -3) == "-3"


@pytest.mark.parametrize("raw,expected", [
    ("50万", 500000), ("50万元", 500000), ("1.2亿", 120000000), ("￥500,000", 500000), ("¥500,000", 500000),
    ("500,000元", 500000), ("RMB 500000", 500000), ("rmb500000", 500000), ("CNY 1,000", 1000),
    ("人民币5000元", 5000), ("5千", 5000), ("3.5k", 3500), ("1234.5", 1234.5), ("1234.567", 1234.57),
    ("0.005", 0.01), ("-200", -200), ("-¥200", -200), ("¥-200", -200), ("￥１２３", 123), ("100块", 100),
    ("5000元整", 5000), (1234.5, 1234.5), (100, 100), (Decimal("1.005"), 1.01), ("1,234.50", 1234.5),
])
def test_money_examples(raw, expected):
    v = parse_value("money", raw)
    assert v == expected and type(v) is type(expected)


@pytest.mark.parametrize("raw", ["abc", "$100", "12%", "五十万", "¥", "元", "1e20", float("nan"), True, "1,2345"])
def test_money_rejects(raw):
    with pytest.raises(InvalidValue):
        parse_value("money", raw)


def test_money_display():
    assert display_value("money", 500000) == "¥500,000"
    assert display_value("money", 1234.5) == "¥1,234.50"
    assert display_value("money", -20) == "-¥20"
    assert display_value("money", 0.1) == "¥0.10"


@pytest.mark.parametrize("raw", [
    "2024-06-30", "2024/6/30", "2024.6.30", "2024年6月30日", "2024年6月30号", "2024 年 6 月 30 日", "2024年06月30",
    "２０２４年６月３０日", "２０２４－０６－３０", "20240630", "2024-06-30 10:20:30", "2024-06-30T10:20:30Z",
    "2024/06/30 8:00", dt.date(2024, 6, 30), dt.datetime(2024, 6, 30, 15, 0), 20240630, 45473, 45473.75,
    "2024 6 30",
])
def test_date_examples(raw):
    assert parse_value("date", raw) == "2024-06-30"


@pytest.mark.parametrize("raw", ["2024-02-30", "2023年2月29日", "2024-13-01", "2024年6月", "2024-06", "30/6/2024",
                                 "6/30/2024", "24-6-30", "yesterday", "0224-06-30", "2024-06-30x", True, 3.5e9,
                                 "2024年6月31日", "2024-6-30-1"])
def test_date_rejects(raw):
    with pytest.raises(InvalidValue):
        parse_value("date", raw)


def test_date_messages(babel_app):
    with pytest.raises(InvalidValue) as e:
        parse_value("date", "2024-02-30")
    assert "2024-02-30" in msg(e.value, babel_app) and "real date" in msg(e.value, babel_app)
    with pytest.raises(InvalidValue) as e:
        parse_value("date", "2024年6月")
    assert "day" in msg(e.value, babel_app)
    with pytest.raises(InvalidValue) as e:
        parse_value("date", "hello")
    assert "2024年6月30日" in msg(e.value, babel_app)
    assert "2024年6月30日" in str(e.value)  # str() works outside a request too


def test_date_leap_day():
    assert parse_value("date", "2024年2月29日") == "2024-02-29"
    assert display_value("date", "2024-06-30") == "2024-06-30"


def test_select(babel_app):
    spec = {"options": ["VIP", "普通客户"], "retired_options": ["老客户"]}
    assert parse_value("select", "VIP", spec) == "VIP"
    assert parse_value("select", " vip ", spec) == "VIP"
    assert parse_value("select", "ＶＩＰ", spec) == "VIP"
    assert parse_value("select", ["普通客户"], spec) == "普通客户"
    with pytest.raises(InvalidValue) as e:
        parse_value("select", "金牌", spec)
    text = msg(e.value, babel_app)
    assert "金牌" in text and "VIP" in text and "普通客户" in text
    assert e.value.params["choices"] == ["VIP", "普通客户"]
    with pytest.raises(InvalidValue) as e:
        parse_value("select", "老客户", spec)
    assert "no longer" in msg(e.value, babel_app)
    assert parse_value("select", "老客户", {**spec, "allow_retired": True}) == "老客户"
    assert display_value("select", "老客户", spec) == "老客户"
    with pytest.raises(InvalidValue):
        parse_value("select", ["VIP", "普通客户"], spec)
    with pytest.raises(InvalidValue):
        parse_value("select", "VIP", {})


def test_multiselect():
    spec = {"options": CHANNELS, "retired_options": ["传真"]}
    assert parse_value("multiselect", "邮件，电话", spec) == ["电话", "邮件"]
    assert parse_value("multiselect", "邮件、电话、邮件", spec) == ["电话", "邮件"]
    assert parse_value("multiselect", "微信;邮件；电话/上门拜访\n", spec) == CHANNELS
    assert parse_value("multiselect", ["微信", "电话", "", None], spec) == ["电话", "微信"]
    assert parse_value("multiselect", "电话", spec) == ["电话"]
    with pytest.raises(InvalidValue):
        parse_value("multiselect", "电话、传真", spec)
    assert parse_value("multiselect", "电话、传真", {**spec, "allow_retired": True}) == ["电话", "传真"]
    with pytest.raises(InvalidValue):
        parse_value("multiselect", "电话、短信", spec)
    assert display_value("multiselect", ["电话", "邮件"], spec) == "电话、邮件"
    # an option containing a separator still wins
    spec2 = {"options": ["电话/微信", "邮件", "A, B"]}
    assert parse_value("multiselect", "电话/微信、邮件", spec2) == ["电话/微信", "邮件"]
    assert parse_value("multiselect", "a, b / 邮件", spec2) == ["邮件", "A, B"]


@pytest.mark.parametrize("raw", [True, "是", "有", "对", "yes", "Y", "TRUE", "true", "1", "on", "✓", "√", 1, "ＹＥＳ",
                                 " 是 "])
def test_boolean_true(raw):
    assert parse_value("boolean", raw) is True


@pytest.mark.parametrize("raw", [False, "否", "无", "错", "no", "N", "false", "0", "off", "✗", "×", 0, "ｎｏ", "没有"])
def test_boolean_false(raw):
    assert parse_value("boolean", raw) is False


@pytest.mark.parametrize("raw", ["maybe", "2", 2, "是否", [True], Decimal("sNaN"), float("nan")])
def test_boolean_rejects(raw):
    with pytest.raises(InvalidValue):
        parse_value("boolean", raw)


def test_boolean_display():
    assert display_value("boolean", True) == "是"
    assert display_value("boolean", False) == "否"


@pytest.mark.parametrize("raw,expected", [
    ("13800138000", "13800138000"), ("138 0013 8000", "13800138000"), ("138-0013-8000", "13800138000"),
    ("+86 138 0013 8000", "13800138000"), ("+86-13800138000", "13800138000"), ("0086 13800138000", "13800138000"),
    ("8613800138000", "13800138000"), ("(+86) 138 0013 8000", "13800138000"), ("１３８００１３８０００", "13800138000"),
    ("013800138000", "13800138000"), (13800138000, "13800138000"),
    ("010-56781234", "010-56781234"), ("01056781234", "010-56781234"), ("(010) 5678 1234", "010-56781234"),
    ("021-5588 1234", "021-55881234"), ("021-5588-1234", "021-55881234"), ("0755-2345678", "0755-2345678"),
    ("+86 10 5678 1234", "010-56781234"), ("+86 21 5588 1234", "021-55881234"), ("０１０－５６７８１２３４", "010-56781234"),
    ("010-56781234-808", "010-56781234-808"), ("010-56781234转808", "010-56781234-808"),
    ("010-56781234 ext. 808", "010-56781234-808"), ("010 5678 1234 分机 808", "010-56781234-808"),
    ("400-123-4567", "400-123-4567"), ("4001234567", "400-123-4567"), ("800 123 4567", "800-123-4567"),
    ("400-123-4567转8", "400-123-4567转8"),
    ("95588", "95588"), ("12345", "12345"), ("8888 6666", "88886666"), ("88886666转12", "88886666转12"),
    ("+1 (415) 555-1234", "+1 415 555 1234"), ("+44 20 7946 0958", "+44 20 7946 0958"),
    ("001 415 555 1234", "+1 415 555 1234"), ("+1 415 555 1234 ext 12", "+1 415 555 1234 ext 12"),
])
def test_phone_examples(raw, expected):
    assert parse_value("phone", raw) == expected
    assert parse_value("phone", expected) == expected
    assert display_value("phone", expected) == expected


@pytest.mark.parametrize("raw", ["abc", "1234", "138001380", "1380013800a", "call 13800138000", "12345678901",
                                 "13800138000, 13900139000", "010-123", "+86", "+", "13800138000转8", "0123456",
                                 True, 1.5, "1" * 25, "138+0013"])
def test_phone_rejects(raw):
    with pytest.raises(InvalidValue):
        parse_value("phone", raw)


def test_phone_digits():
    assert phone_digits("+86 138 0013 8000") == "13800138000"
    assert phone_digits("0086-138-0013-8000") == "13800138000"
    assert phone_digits("8613800138000") == "13800138000"
    assert phone_digits("021-5588 1234") == "02155881234"
    assert phone_digits("+86 21 5588 1234") == "02155881234"
    assert phone_digits("１３８ ００１３ ８０００") == "13800138000"
    assert phone_digits("+1 415 555 1234") == "14155551234"
    assert phone_digits(None) == ""
    assert phone_digits("abc") == ""


@pytest.mark.parametrize("raw,expected", [
    ("Name@Example.COM", "Name@example.com"), ("  a.b+c@qq.com ", "a.b+c@qq.com"),
    ("ａｂｃ＠ｅｘａｍｐｌｅ．ｃｏｍ", "abc@example.com"), ("abc@qq。com", "abc@qq.com"),
    ("mailto:x@y.cn", "x@y.cn"), ("<x@y.cn>", "x@y.cn"), ("张三@例子.中国", "张三@例子.中国"),
])
def test_email(raw, expected):
    assert parse_value("email", raw) == expected


@pytest.mark.parametrize("raw", ["abc", "a@b", "a b@c.com", "a@@b.com", "@b.com", "a@b.c", "a@.com", "a..b@c.com",
                                 ".a@b.com", "a@b_c.com", "a@-b.com", "a@b.123", 5])
def test_email_rejects(raw):
    with pytest.raises(InvalidValue):
        parse_value("email", raw)


@pytest.mark.parametrize("raw,expected", [
    ("www.example.com", "https://www.example.com"), ("example.com/a/B?x=1#f", "https://example.com/a/B?x=1#f"),
    ("http://Example.COM/Path", "http://example.com/Path"), ("HTTPS://www.example.com", "https://www.example.com"),
    ("ｗｗｗ．ｅｘａｍｐｌｅ．ｃｏｍ", "https://www.example.com"), ("www.example.com:8080/x", "https://www.example.com:8080/x"),
    ("//cdn.example.com", "https://cdn.example.com"), ("https://192.168.1.1/admin", "https://192.168.1.1/admin"),
    ("https://例子.中国/路径", "https://例子.中国/路径"),
])
def test_url(raw, expected):
    assert parse_value("url", raw) == expected
    assert parse_value("url", expected) == expected


@pytest.mark.parametrize("raw", ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,x", "ftp://a.com",
                                 "vbscript:x", "file:///etc/passwd", "not a url", "http://", "https://a", "http:a.com",
                                 "https://user:pw@evil.com", "https://999.1.1.1", "https://a.com:99999", "localhost",
                                 "mailto:a@b.com", 5])
def test_url_rejects(raw):
    with pytest.raises(InvalidValue):
        parse_value("url", raw)


def test_person():
    assert parse_value("person", 2, PERSON_SPEC) == 2
    assert parse_value("person", "2", PERSON_SPEC) == 2
    assert parse_value("person", "２", PERSON_SPEC) == 2
    assert parse_value("person", "#3", PERSON_SPEC) == 3
    assert parse_value("person", "张三", PERSON_SPEC) == 1
    assert parse_value("person", "wang wu", PERSON_SPEC) == 3
    assert parse_value("person", 99) == 99  # person_ids None: not checked
    assert display_value("person", 1, PERSON_SPEC) == "张三"
    assert display_value("person", 99, PERSON_SPEC) == "#99"
    for bad in [99, "99", "赵六", 0, -1, True, 1.5, "1.5"]:
        with pytest.raises(InvalidValue):
            parse_value("person", bad, PERSON_SPEC)
    with pytest.raises(InvalidValue):
        parse_value("person", "张三", {"person_names": {1: "张三", 2: "张三"}})


def test_table(babel_app):
    rows = [
        {"name": " 张三 ", "phone": "+86 138 0013 8000", "amount": "50万", "since": "2024年6月30日", "level": "vip"},
        {"name": "", "phone": None},  # entirely empty: dropped
        {"姓名": "李四", "有效": "是", "level": ""},  # label as key; empty cells omitted
    ]
    assert parse_value("table", rows, TABLE_SPEC) == [
        {"name": "张三", "phone": "13800138000", "amount": 500000, "since": "2024-06-30", "level": "VIP"},
        {"name": "李四", "active": True},
    ]
    assert parse_value("table", json.dumps(rows), TABLE_SPEC) == parse_value("table", rows, TABLE_SPEC)
    assert parse_value("table", [{}, {"name": " "}], TABLE_SPEC) is None
    with pytest.raises(InvalidValue) as e:
        parse_value("table", [{"name": "a"}, {"phone": "abc"}], TABLE_SPEC)
    text = msg(e.value, babel_app)
    assert text.startswith("Row 2, 电话:") and "13800138000" in text
    assert e.value.params["row"] == 2 and e.value.params["column"] == "phone"
    with pytest.raises(InvalidValue) as e:
        parse_value("table", [{"fax": "1"}], TABLE_SPEC)
    assert "fax" in msg(e.value, babel_app)
    for bad in ["not json", 5, ["row"], [[1, 2]]]:
        with pytest.raises(InvalidValue):
            parse_value("table", bad, TABLE_SPEC)
    with pytest.raises(InvalidValue):
        parse_value("table", [{"name": str(i)} for i in range(201)], TABLE_SPEC)
    with pytest.raises(InvalidValue):
        parse_value("table", [{"name": "a"}, {"name": "b"}], {**TABLE_SPEC, "max_rows": 1})
    shown = display_value("table", [{"name": "张三", "amount": 500000}], TABLE_SPEC)
    assert "张三" in shown and "¥500,000" in shown and "金额" in shown


def test_convert_examples():
    assert convert_value("text", "text", "x") == "x"
    assert convert_value("number", "money", 1234.5) == 1234.5
    assert convert_value("money", "number", 1234.5) == 1234.5
    assert convert_value("money", "text", 1234.5) == "¥1,234.50"
    assert convert_value("text", "number", "1.5万") == 15000
    assert convert_value("text", "date", "2024年6月30日") == "2024-06-30"
    assert convert_value("date", "text", "2024-06-30") == "2024-06-30"
    assert convert_value("boolean", "text", True) == "是"
    assert convert_value("text", "boolean", "否") is False
    assert convert_value("select", "multiselect", "电话", {"options": CHANNELS}) == ["电话"]
    assert convert_value("multiselect", "select", ["电话"], {"options": CHANNELS}) == "电话"
    assert convert_value("multiselect", "text", ["电话", "邮件"]) == "电话、邮件"
    assert convert_value("text", "multiselect", "电话、邮件", {"options": CHANNELS}) == ["电话", "邮件"]
    assert convert_value("textarea", "text", "a\nb") == "a b"
    assert convert_value("person", "text", 1, PERSON_SPEC) == "张三"
    assert convert_value("text", "person", "李四", PERSON_SPEC) == 2
    assert convert_value("phone", "text", "010-56781234") == "010-56781234"
    assert convert_value("number", "text", None) is None
    table = [{"name": "张三", "amount": 5}, {"name": "李四"}]
    assert "李四" in convert_value("table", "text", table, TABLE_SPEC)
    assert convert_value("table", "textarea", table, TABLE_SPEC).count("\n") == 1
    for args in [("text", "number", "abc"), ("multiselect", "select", ["电话", "邮件"]), ("text", "date", "x"),
                 ("text", "table", "x"), ("table", "number", table), ("boolean", "date", True)]:
        with pytest.raises(InvalidValue):
            convert_value(*args, {"options": CHANNELS, **TABLE_SPEC})


def test_normalize_company_name():
    assert normalize_company_name("上海华光科技有限公司") == normalize_company_name("上海华光科技")
    assert normalize_company_name("ＡＢＣ贸易") == normalize_company_name("abc贸易")
    assert normalize_company_name("上海 华光科技（集团）股份有限公司") == "上海华光科技"
    assert normalize_company_name("上海华光科技有限责任公司") == "上海华光科技"
    assert normalize_company_name("ABC Trading Co., Ltd.") == normalize_company_name("abc trading")
    assert normalize_company_name("Acme, Inc.") == normalize_company_name("ACME LLC") == "acme"
    assert normalize_company_name("Tesco") == "tesco"  # "co" only stripped as a word
    assert normalize_company_name("有限公司")  # never stripped to nothing
    assert normalize_company_name("公司") == "公司"
    assert normalize_company_name(None) == ""


def test_search_text():
    assert search_text("phone", "+1 415 555 1234") == "+1 415 555 1234 14155551234"
    assert "02155881234" in search_text("phone", "021-55881234")
    assert search_text("text", "ABC 公司") == "abc 公司"
    assert "500000" in search_text("money", 500000) and "¥500,000" in search_text("money", 500000)
    assert "2024年6月30日" in search_text("date", "2024-06-30")
    assert search_text("multiselect", ["电话", "邮件"]) == "电话 邮件"
    assert search_text("person", 1, PERSON_SPEC) == "张三"
    s = search_text("table", [{"name": "Zhang", "phone": "13800138000"}], TABLE_SPEC)
    assert "zhang" in s and "13800138000" in s
    assert search_text("text", None) == ""


def test_messages_are_translatable_and_nonempty(babel_app):
    bad = {"text": "x" * 3000, "textarea": "x" * 30000, "number": "abc", "money": "abc", "date": "2024-02-30",
           "select": "nope", "multiselect": "nope", "boolean": "maybe", "phone": "abc", "email": "abc",
           "url": "javascript:x", "person": "nobody", "table": [{"nope": 1}]}
    for t in FIELD_TYPES:
        with pytest.raises(InvalidValue) as e:
            parse_value(t, bad[t], spec_for(t))
        assert msg(e.value, babel_app).strip(), t
        assert "%(" not in msg(e.value, babel_app), t


def test_results_are_json_serializable():
    samples = {"number": "1.5万", "money": "1,234.56", "date": "2024/6/30", "multiselect": "电话、微信",
               "table": [{"name": "a", "amount": "5万"}], "boolean": "是", "person": "1"}
    for t, raw in samples.items():
        json.dumps(parse_value(t, raw, spec_for(t)))


# ---------------------------------------------------------------------------
# properties

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.decimals(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=10,
)


@pytest.mark.parametrize("t", FIELD_TYPES)
@QUICK
@given(raw=st.text())
def test_parse_text_only_raises_invalid_value(t, raw):
    try:
        v = parse_value(t, raw, spec_for(t))
    except InvalidValue as e:
        assert str(e)
        return
    json.dumps(v)
    if v is not None:
        assert parse_value(t, v, spec_for(t)) == v  # stored form re-parses to itself


@pytest.mark.parametrize("t", FIELD_TYPES)
@settings(max_examples=40, deadline=None, database=None)
@given(raw=json_like)
def test_parse_any_json_only_raises_invalid_value(t, raw):
    try:
        v = parse_value(t, raw, spec_for(t))
    except InvalidValue:
        return
    json.dumps(v)


@pytest.mark.parametrize("t", FIELD_TYPES)
@settings(max_examples=30, deadline=None, database=None)
@given(raw=st.text(alphabet="0123456789年月日号-/.:,，、 +万亿元¥￥转#()是否abcx@", max_size=20))
def test_parse_numberish_text_only_raises_invalid_value(t, raw):
    try:
        v = parse_value(t, raw, spec_for(t))
    except InvalidValue:
        return
    if v is not None:
        assert parse_value(t, display_value(t, v, spec_for(t)), spec_for(t)) == v or t in ("table",)
        assert convert_value(t, "textarea", v, spec_for(t)) is not None


@FAST
@given(st.text())
def test_text_roundtrip(raw):
    for t in ("text", "textarea"):
        v = parse_value(t, raw)
        if v is None:
            continue
        assert isinstance(v, str) and v == v.strip() and "\r" not in v
        assert parse_value(t, display_value(t, v)) == v
        if t == "text":
            assert "\n" not in v


@FAST
@given(st.text(alphabet=string.ascii_letters + string.digits + " 你好，。", max_size=50))
def test_text_fullwidth(raw):
    assert parse_value("text", fullwidth_alnum(raw)) == parse_value("text", raw)
    assert parse_value("textarea", fullwidth_alnum(raw)) == parse_value("textarea", raw)


numbers = st.integers(min_value=-10 ** 15, max_value=10 ** 15) | st.floats(
    min_value=-1e15, max_value=1e15, allow_nan=False, allow_infinity=False)


@FAST
@given(numbers)
def test_number_roundtrip(x):
    v = parse_value("number", x)
    assert type(v) in (int, float)
    assert v == x
    if isinstance(v, float):
        assert not v.is_integer()
    shown = display_value("number", v)
    assert parse_value("number", shown) == v
    assert parse_value("number", fullwidth(shown)) == v
    if isinstance(x, int):
        assert parse_value("number", str(x)) == v


@FAST
@given(st.integers(min_value=0, max_value=10 ** 4), st.sampled_from([("万", 10 ** 4), ("亿", 10 ** 8), ("千", 1000)]))
def test_number_units(n, unit):
    assert parse_value("number", f"{n}{unit[0]}") == n * unit[1]
    assert parse_value("money", f"{n}{unit[0]}元") == n * unit[1]


money_values = st.decimals(min_value=Decimal("-9999999999999.99"), max_value=Decimal("9999999999999.99"),
                           places=2, allow_nan=False, allow_infinity=False)


@FAST
@given(money_values)
def test_money_roundtrip(d):
    v = parse_value("money", d)
    assert type(v) in (int, float)
    assert Decimal(repr(v)) == d if isinstance(v, float) else Decimal(v) == d
    shown = display_value("money", v)
    assert shown.startswith(("¥", "-¥"))
    assert parse_value("money", shown) == v
    assert parse_value("money", fullwidth(shown).replace("¥", "￥")) == v
    assert parse_value("money", str(d) + "元") == v
    assert parse_value("money", "RMB " + str(d)) == v


@FAST
@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False))
def test_money_rounds_to_fen(x):
    v = parse_value("money", x)
    assert Decimal(repr(float(v))).as_tuple().exponent >= -2
    assert parse_value("money", v) == v


dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31))


@FAST
@given(dates)
def test_date_roundtrip(d):
    iso = d.isoformat()
    assert parse_value("date", d) == iso
    assert parse_value("date", dt.datetime(d.year, d.month, d.day, 13, 45)) == iso
    for raw in (iso, f"{d.year}/{d.month}/{d.day}", f"{d.year}.{d.month}.{d.day}", f"{d.year}年{d.month}月{d.day}日",
                f"{d.year}年{d.month}月{d.day}号", d.strftime("%Y%m%d"), iso + " 00:00:00"):
        assert parse_value("date", raw) == iso
        assert parse_value("date", fullwidth(raw)) == iso
    assert parse_value("date", display_value("date", iso)) == iso


@FAST
@given(st.integers(1900, 2100), st.integers(1, 12), st.integers(1, 31))
def test_date_invalid_days_rejected(y, m, d):
    try:
        expected = dt.date(y, m, d).isoformat()
    except ValueError:
        with pytest.raises(InvalidValue):
            parse_value("date", f"{y}年{m}月{d}日")
    else:
        assert parse_value("date", f"{y}年{m}月{d}日") == expected


SEPARATORS = set(",、;/|\n，；／｜")
option_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=12,
).filter(lambda s: normalize_text(s) and not (set(unicodedata.normalize("NFKC", s)) & SEPARATORS))


def unique_options(opts):
    seen, out = set(), []
    for o in opts:
        k = normalize_text(o).casefold()
        if k not in seen:
            seen.add(k)
            out.append(o)
    return out


@FAST
@given(st.lists(option_text, min_size=1, max_size=6).map(unique_options), st.data())
def test_select_roundtrip(options, data):
    spec = {"options": options}
    o = data.draw(st.sampled_from(options))
    v = parse_value("select", o, spec)
    assert v in options and normalize_text(v) == normalize_text(o)
    assert parse_value("select", display_value("select", v, spec), spec) == v
    assert parse_value("select", "  " + o + " ", spec) == v


@FAST
@given(st.lists(st.text(alphabet=string.ascii_letters + "客户重要", min_size=1, max_size=6), min_size=1, max_size=5)
       .map(unique_options), st.data())
def test_select_fullwidth_and_case(options, data):
    spec = {"options": options}
    o = data.draw(st.sampled_from(options))
    v = parse_value("select", o, spec)
    assert parse_value("select", fullwidth(o), spec) == v
    assert parse_value("select", o.swapcase(), spec) == v


@FAST
@given(st.lists(option_text, min_size=1, max_size=6).map(unique_options), st.data())
def test_multiselect_roundtrip(options, data):
    spec = {"options": options}
    chosen = data.draw(st.lists(st.sampled_from(options), min_size=1, max_size=8))
    v = parse_value("multiselect", chosen, spec)
    assert isinstance(v, list) and v == [o for o in options if o in set(v)] and len(set(v)) == len(v)
    assert parse_value("multiselect", display_value("multiselect", v, spec), spec) == v
    sep = data.draw(st.sampled_from([",", "，", "、", ";", "；", "\n", " / "]))
    assert parse_value("multiselect", sep.join(chosen), spec) == v
    assert parse_value("multiselect", v, spec) == v


@FAST
@given(st.booleans(), st.data())
def test_boolean_roundtrip(b, data):
    assert parse_value("boolean", display_value("boolean", b)) is b
    word = data.draw(st.sampled_from(["yes", "y", "true", "on", "1", "是", "有", "对", "✓"] if b
                                     else ["no", "n", "false", "off", "0", "否", "无", "错", "✗"]))
    word = data.draw(st.sampled_from([word, word.upper(), fullwidth(word), f" {word} "]))
    assert parse_value("boolean", word) is b


mobiles = st.builds(lambda a, b: "1" + a + b, st.sampled_from("3456789"),
                    st.text(alphabet=string.digits, min_size=9, max_size=9))
landlines = st.builds(lambda area, first, rest: (area, first + rest),
                      st.sampled_from(["010", "020", "021", "022", "023", "024", "025", "027", "028", "029", "0311",
                                       "0571", "0755", "0512", "0991"]),
                      st.sampled_from("23456789"), st.text(alphabet=string.digits, min_size=6, max_size=7))


@FAST
@given(mobiles, st.sampled_from(["{}", "+86 {}", "+86{}", "0086 {}", "86{}", "+86-{}"]),
       st.sampled_from(["", " ", "-"]))
def test_phone_mobile_property(m, prefix, sep):
    spaced = sep.join([m[:3], m[3:7], m[7:]])
    raw = prefix.format(spaced)
    assert parse_value("phone", raw) == m
    assert parse_value("phone", fullwidth(raw)) == m
    assert phone_digits(raw) == m
    assert phone_digits(fullwidth(raw)) == m
    assert parse_value("phone", display_value("phone", m)) == m


@FAST
@given(landlines, st.sampled_from(["{a}-{l}", "{a} {l}", "({a}) {l}", "{a}{l}", "+86 {a1} {l}", "0086-{a1}-{l}"]),
       st.one_of(st.none(), st.text(alphabet=string.digits, min_size=1, max_size=4)))
def test_phone_landline_property(al, fmt, ext):
    area, local = al
    raw = fmt.format(a=area, l=local, a1=area[1:])
    expected = f"{area}-{local}"
    if ext:
        raw += f"转{ext}"
        expected += f"-{ext}"
    v = parse_value("phone", raw)
    assert v == expected
    assert parse_value("phone", fullwidth(raw)) == v
    assert parse_value("phone", v) == v
    assert phone_digits(v) == area + local + (ext or "")
    assert phone_digits(raw) == area + local + (ext or "")


@FAST
@given(st.sampled_from(["1", "44", "81", "852", "65", "49"]),
       st.lists(st.text(alphabet=string.digits, min_size=2, max_size=4), min_size=2, max_size=4))
def test_phone_foreign_property(cc, groups):
    raw = "+" + cc + " " + "-".join(groups)
    v = parse_value("phone", raw)
    assert v == "+" + " ".join([cc] + groups)
    assert parse_value("phone", v) == v
    assert parse_value("phone", fullwidth(raw)) == v


@FAST
@given(st.text())
def test_phone_digits_properties(s):
    d = phone_digits(s)
    assert d == "" or (d.isascii() and d.isdigit())
    assert phone_digits(fullwidth(s)) == phone_digits(s)
    try:
        v = parse_value("phone", s)
    except InvalidValue:
        return
    if v is not None:
        assert isinstance(v, str) and parse_value("phone", v) == v
        assert len(phone_digits(v)) >= 5


local_parts = st.text(alphabet=string.ascii_letters + string.digits + "_+-", min_size=1, max_size=10)
domains = st.builds(
    lambda labels, tld: ".".join(labels + [tld]),
    st.lists(st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=8), min_size=1, max_size=3),
    st.text(alphabet=string.ascii_letters, min_size=2, max_size=5),
)


@FAST
@given(local_parts, st.lists(local_parts, max_size=2), domains)
def test_email_roundtrip(local, more, domain):
    local = ".".join([local] + more)
    raw = f"{local}@{domain.upper()}"
    v = parse_value("email", raw)
    assert v == f"{local}@{domain.lower()}"
    assert parse_value("email", display_value("email", v)) == v
    assert parse_value("email", fullwidth(raw)) == v
    assert parse_value("email", f"  {raw}  ") == v


@FAST
@given(domains, st.text(alphabet=string.ascii_letters + string.digits + "/-_.~", max_size=20),
       st.sampled_from(["", "http://", "https://", "HTTPS://"]))
def test_url_roundtrip(domain, path, scheme):
    raw = scheme + domain.upper() + ("/" + path if path else "")
    v = parse_value("url", raw)
    assert v.startswith(("http://", "https://"))
    assert v.startswith("http://") == (scheme == "http://")
    assert parse_value("url", v) == v
    assert parse_value("url", display_value("url", v)) == v
    assert parse_value("url", fullwidth(raw)) == v


@FAST
@given(st.text())
def test_url_never_dangerous(s):
    try:
        v = parse_value("url", s)
    except InvalidValue:
        return
    if v is not None:
        assert v.startswith(("http://", "https://")) and " " not in v


@FAST
@given(st.integers(min_value=1, max_value=10 ** 9),
       st.text(alphabet="张三李四王五赵六ab ", min_size=1, max_size=6).filter(lambda s: not s.strip().isdigit()))
def test_person_roundtrip(pid, name):
    assume(normalize_text(name))
    spec = {"person_ids": {pid, pid + 1}, "person_names": {pid: name, pid + 1: name + "x"}}
    assert parse_value("person", pid, spec) == pid
    assert parse_value("person", str(pid), spec) == pid
    assert parse_value("person", fullwidth(str(pid)), spec) == pid
    assert parse_value("person", display_value("person", pid, spec), spec) == pid
    assert parse_value("person", display_value("person", pid, {}), {}) == pid
    with pytest.raises(InvalidValue):
        parse_value("person", pid + 2, spec)


cells = st.fixed_dictionaries({}, optional={
    "name": st.text(max_size=10),
    "phone": mobiles,
    "amount": money_values,
    "since": dates,
    "level": st.sampled_from(LEVELS + [""]),
    "active": st.booleans(),
})


@FAST
@given(st.lists(cells, max_size=6))
def test_table_properties(rows):
    v = parse_value("table", rows, TABLE_SPEC)
    if v is None:
        assert all(is_empty(parse_value("text", r.get("name"))) and len([k for k in r if k != "name" and
                                                                          not is_empty(r[k])]) == 0 for r in rows)
        return
    json.dumps(v)
    assert all(row for row in v)
    keys = [c["key"] for c in TABLE_SPEC["columns"]]
    for row in v:
        assert list(row) == [k for k in keys if k in row]
    assert parse_value("table", v, TABLE_SPEC) == v  # stored form is stable
    assert display_value("table", v, TABLE_SPEC)
    assert convert_value("table", "textarea", v, TABLE_SPEC)


@FAST
@given(st.lists(cells, min_size=1, max_size=4), st.data())
def test_table_error_names_row(rows, data):
    n = data.draw(st.integers(0, len(rows) - 1))
    rows = [dict(r) for r in rows]
    rows[n]["since"] = "2024-02-30"
    with pytest.raises(InvalidValue) as e:
        parse_value("table", rows, TABLE_SPEC)
    assert e.value.params["row"] == n + 1 and e.value.params["column"] == "since"


valid_values = {
    "text": st.text(max_size=50),
    "textarea": st.text(max_size=50),
    "number": numbers,
    "money": money_values,
    "date": dates,
    "select": st.sampled_from(LEVELS),
    "multiselect": st.lists(st.sampled_from(CHANNELS)),
    "boolean": st.booleans(),
    "phone": mobiles | landlines.map(lambda a: "-".join(a)),
    "email": st.builds(lambda a, b: f"{a}@{b}", local_parts, domains),
    "url": domains,
    "person": st.sampled_from([1, 2, 3]),
    "table": st.lists(cells, max_size=3),
}


@pytest.mark.parametrize("t", FIELD_TYPES)
@settings(max_examples=50, deadline=None, database=None)
@given(data=st.data())
def test_generic_roundtrip_and_convert_to_text(t, data):
    spec = spec_for(t)
    v = parse_value(t, data.draw(valid_values[t]), spec)
    if v is None:
        return
    json.dumps(v)
    shown = display_value(t, v, spec)
    assert isinstance(shown, str) and shown
    if t != "table":
        assert parse_value(t, shown, spec) == v
    assert parse_value(t, v, spec) == v
    assert convert_value(t, t, v, spec) == v
    assert isinstance(convert_value(t, "text", v, spec), str)
    assert isinstance(convert_value(t, "textarea", v, spec), str)
    assert isinstance(search_text(t, v, spec), str)
    assert search_text(t, v, spec) == search_text(t, v, spec).lower()
    for target in FIELD_TYPES:
        try:
            out = convert_value(t, target, v, {**spec_for(target), **({"columns": []} if target != "table" else {})})
        except InvalidValue:
            continue
        json.dumps(out)


@FAST
@given(st.text())
def test_company_name_idempotent_and_fullwidth(s):
    n = normalize_company_name(s)
    assert normalize_company_name(n) == n
    assert " " not in n
    assert normalize_company_name(fullwidth(s)) == n
    assert normalize_company_name(s.upper()) == normalize_company_name(s.lower()) or not s.isascii()


company_core = st.text(alphabet="上海华光科技北京贸易深圳广州电子ABCabcxyz123 ", min_size=1, max_size=12).filter(
    lambda s: normalize_company_name(s))


@FAST
@given(company_core, st.sampled_from(["有限公司", "股份有限公司", "有限责任公司", "集团有限公司", "集团", "公司",
                                      " Co., Ltd.", " Inc.", " LLC", "（集团）有限公司", " Co.,Ltd"]))
def test_company_name_suffixes(core, suffix):
    assert normalize_company_name(core + suffix) == normalize_company_name(core)
    assert normalize_company_name(fullwidth(core) + suffix) == normalize_company_name(core)
    assert normalize_company_name(core.replace(" ", "") + suffix) == normalize_company_name(core)
