"""The bulk path (import, batch API) validates and derives cards with the template's FieldIndex, built once per
batch; it must give exactly what the one-card path gives: values, errors, match keys, value index rows, search text,
completeness. Sensitive values stay out of every derived row on both paths."""
from __future__ import annotations

from app.card_templates.services import FieldIndex, load_template
from app.clients.derived import build_search_text, completeness, field_value_rows, match_keys
from app.clients.models import Client
from app.clients.services import missing_required, parse_fields
from app.tenancy import tenant_context

RAW = {"text": "华光 ＡＢＣ１２３", "textarea": "第一行\r\n第二行", "number": "１２", "money": "50万", "date": "2024年6月30日",
       "phone": "+86 138 0013 8000", "email": "Info@HuaGuang.cn", "url": "huaguang.cn"}


def _raw_for(fd):
    if fd.type in ("select", "multiselect"):
        return fd.options[0] if fd.options else "x"
    if fd.type == "table":
        row = {}
        for col in fd.columns or []:
            row[col["key"]] = (col.get("options") or ["值"])[0] if col["type"] == "select" else \
                {"phone": "021-55881234", "email": "a@b.cn"}.get(col["type"], "值")
        return [row]
    return RAW.get(fd.type, "值")


def test_the_field_index_gives_what_the_one_card_path_gives(tenant_a):
    with tenant_context(tenant_a.id):
        template = load_template()
        fields = [f for s in template.sections for f in s.fields]
        fields[3].archived = True  # an archived field is refused by both paths
        fx = FieldIndex(template)
        raw = {fd.key: f"机密{fd.id}号" if fd.sensitive and fd.type in ("text", "textarea") else _raw_for(fd)
               for fd in fields}
        raw["nonexistent"] = "x"
        raw[fields[5].key] = "不是一个可以解析的值" if fields[5].type in ("number", "date", "money") else raw[fields[5].key]
        one, fast = parse_fields(template, raw), parse_fields(template, raw, fx=fx)
        assert one[0] == fast[0] and {k: str(v) for k, v in one[1].items()} == {k: str(v) for k, v in fast[1].items()}
        values = {k: v for k, v in one[0].items() if v is not None}
        assert missing_required(template, {}).keys() == missing_required(template, {}, fx=fx).keys()
        assert match_keys(template, "上海华光科技有限公司", values) == match_keys(template, "上海华光科技有限公司", values, fx)
        assert field_value_rows(template, values) == field_value_rows(template, values, fx)
        assert completeness(template, values) == completeness(template, values, fx)
        card = Client(name="上海华光科技有限公司", number="202406001", tags=["展会"], values=values)
        text = build_search_text(template, card)
        assert text == build_search_text(template, card, fx)
        sensitive = [fd for fd in fields if fd.sensitive and fd.type in ("text", "textarea") and fd.key in values]
        assert sensitive and "机密" not in text and not any("机密" in v for _k, v in match_keys(template, "x", values, fx))
        assert not any("机密" in (t or "") for _k, _n, t in field_value_rows(template, values, fx))
