"""The field-type registry: every type has every facet, its example round-trips, and the consumers read from it."""
from __future__ import annotations

from html.parser import HTMLParser
from types import SimpleNamespace

import jsonschema_rs
import pytest
from werkzeug.datastructures import MultiDict

from app.card_templates import editing
from app.card_templates.formdata import raw_from_form
from app.card_templates.models import FieldDef
from app.clients import derived, listing
from app.values import FIELD_TYPES, FieldType, column_type, display_value, parse_value, search_text

# One spec that fits every example: options for the choice types, columns for the table, a name for the person.
SPEC = {"options": ["重点客户", "老客户"],
        "columns": [{"key": "kind", "label": "类型", "type": "text"}, {"key": "city", "label": "城市", "type": "text"}],
        "person_names": {12: "张三"}}
CONTROLS = {"input", "textarea", "select", "checkboxes", "yesno", "person", "table"}
INPUT_TYPES = {"text", "tel", "email", "url", "number", "date"}
INPUTMODES = {None, "text", "tel", "email", "url", "numeric", "decimal", "search"}


def test_types_in_the_order_users_see_them():
    assert list(FIELD_TYPES) == ["text", "textarea", "number", "money", "date", "select", "multiselect", "boolean",
                                 "phone", "email", "url", "person", "table"]


@pytest.mark.parametrize("name", list(FIELD_TYPES))
def test_every_type_has_every_facet(app, name):
    ft = FIELD_TYPES[name]
    assert isinstance(ft, FieldType) and ft.name == name
    with app.test_request_context():
        assert str(ft.label).strip()
    assert callable(ft.parse) and callable(ft.display) and callable(ft.search)
    assert ft.index in ("num", "txt", "multi", None)
    if ft.sortable:  # the list sorts through the value index, by one value per card
        assert ft.index in ("num", "txt")
    if ft.filterable:  # the list filters by option
        assert ft.has_options and ft.index in ("txt", "multi")
    w = ft.widget
    assert w.control in CONTROLS and w.input_type in INPUT_TYPES and w.inputmode in INPUTMODES
    assert all(isinstance(k, str) for k in w.attributes)
    if ft.has_options:
        assert w.control in ("select", "checkboxes")
    assert isinstance(ft.schema, dict) and ft.schema.get("type") and ft.schema.get("description")
    assert jsonschema_rs.validator_for(ft.schema).is_valid(ft.example), ft.example


@pytest.mark.parametrize("name", list(FIELD_TYPES))
def test_example_is_a_stored_value_that_round_trips(name):
    ft = FIELD_TYPES[name]
    assert parse_value(name, ft.example, SPEC) == ft.example  # the stored form is a fixed point
    if ft.widget.control == "table":
        # A table is edited cell by cell: each cell shows its column's display and reads it back.
        cells = [{c["key"]: display_value(column_type(c), row[c["key"]], {}) for c in SPEC["columns"]}
                 for row in ft.example]
        assert parse_value(name, cells, SPEC) == ft.example
    else:
        shown = display_value(name, ft.example, SPEC)
        assert shown and parse_value(name, shown, SPEC) == ft.example
    assert search_text(name, ft.example, SPEC)


@pytest.mark.parametrize("name", [n for n, ft in FIELD_TYPES.items() if ft.widget.control == "input"])
def test_input_widgets_accept_what_the_parser_accepts(name):
    """A keypad or pattern must not forbid the Chinese forms the parser reads (50万 in a money field)."""
    ft = FIELD_TYPES[name]
    assert "pattern" not in ft.widget.attributes
    if ft.widget.inputmode in ("numeric", "decimal"):
        for raw in ("50万", "¥500,000", "-20"):
            with pytest.raises(Exception):
                parse_value(name, raw, SPEC)


def test_money_and_number_read_chinese_units_so_get_the_full_keyboard():
    for name in ("number", "money"):
        assert parse_value(name, "50万") == 500000
        assert FIELD_TYPES[name].widget.inputmode is None and FIELD_TYPES[name].widget.input_type == "text"


def test_consumers_take_their_type_lists_from_the_registry():
    assert editing.OPTION_TYPES == ("select", "multiselect")
    assert editing.TYPE_LABELS == {n: ft.label for n, ft in FIELD_TYPES.items()}
    assert listing.SORT_FIELD_TYPES == ("number", "money", "date")
    assert listing.FILTER_FIELD_TYPES == ("select", "multiselect")
    assert [n for n, ft in FIELD_TYPES.items() if not ft.column] == ["table"]


@pytest.mark.parametrize("name", list(FIELD_TYPES))
def test_value_index_rows_follow_the_index_kind(name):
    ft = FIELD_TYPES[name]
    fd = SimpleNamespace(key="k", type=name, sensitive=False)
    rows = derived._field_value_rows(fd, ft.example)
    if ft.index is None:
        assert rows == []
    elif ft.index == "num":
        assert rows == [("k", float(ft.example), None)]
    elif ft.index == "txt":
        assert rows == [("k", None, ft.example)]
    else:
        assert rows == [("k", None, v) for v in ft.example]
    # Sensitive values never reach the index, whatever the type.
    assert derived._field_value_rows(SimpleNamespace(key="k", type=name, sensitive=True), ft.example) == []


class _Inputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.inputs = []

    def handle_starttag(self, tag, attrs):
        if tag in ("input", "textarea", "select"):
            self.inputs.append((tag, dict(attrs)))


@pytest.mark.parametrize("name", list(FIELD_TYPES))
def test_the_form_widget_and_form_reading_come_from_the_registry(app, name):
    ft = FIELD_TYPES[name]
    fd = FieldDef(key="k", label="字段", type=name, options=list(SPEC["options"]), retired_options=[],
                  columns=list(SPEC["columns"]), i18n={})
    with app.test_request_context():
        html = app.jinja_env.from_string('{% from "macros/fields.html" import field_input %}'
                                         '{{ field_input(fd, value, people={12: "张三"}) }}').render(
            fd=fd, value=ft.example)
        expected_attrs = {key: str(value) for key, value in ft.widget.attributes.items()}  # translated
    parser = _Inputs()
    parser.feed(html)
    tags = {tag for tag, _ in parser.inputs}
    if ft.widget.control == "input":
        (tag, attrs), = parser.inputs
        assert attrs["type"] == ft.widget.input_type and attrs.get("inputmode") == ft.widget.inputmode
        assert attrs["value"] == display_value(name, ft.example, SPEC)
        assert expected_attrs.items() <= attrs.items()
        form = {"f.k": attrs["value"]}
    else:
        assert tags == {"input": {"input"}, "textarea": {"textarea"}, "select": {"select"}, "checkboxes": {"input"},
                        "yesno": {"select"}, "person": {"select"}, "table": {"input"}}[ft.widget.control]
        form = {"textarea": {"f.k": ft.example}, "select": {"f.k": ft.example}, "yesno": {"f.k": "是"},
                "checkboxes": {"f.k": ft.example}, "person": {"f.k": "12"},
                "table": {"f.k.0.kind": "办事处", "f.k.0.city": "上海"}}[ft.widget.control]
    pairs = [(k, v) for k, vs in form.items() for v in (vs if isinstance(vs, list) else [vs])]
    raw = raw_from_form([fd], MultiDict(pairs))
    assert parse_value(name, raw["k"], SPEC) == ft.example
