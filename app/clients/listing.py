"""The client list as plain functions: parse list parameters, build the query, page it by keyset, count it.

Shared by the web list (/clients) and the REST API (GET /api/v1/clients), so nothing here touches HTTP:
`parse_list_params(args, template)` takes any mapping (request.args, a dict), `list_clients(user, params)`
returns a `Page`, `count_clients(user, params)` the total. Every query starts from `visible_clients(user)`;
the tenant scope is added centrally by app.tenancy.

Parameters (all optional; the same names in the URL and the API):
  q         substring of name, number, tags, phone (also by digits), email or any non-sensitive field
  stage     a stage of the tenant          grade   A/B/C…, or "none" for ungraded
  owner     a user id, or "none"           tag     one tag
  archived  active (default) | archived | all
  field + option   a select or multiselect field key and one of its options ("has this option")
  sort      name | number | updated | grade | completeness | <key of a number, money or date field>
  dir       asc | desc (default: desc for updated and completeness, asc otherwise)
  cursor    the opaque `next_cursor` of the previous page
  limit     page size, 1..200 (default 50)
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field as dc_field
from datetime import datetime
from urllib.parse import urlencode

from flask_babel import lazy_gettext as _l
from sqlalchemy import (Text, and_, column, exists, false as false_, func, literal, literal_column, null, or_, select,
                        table, true, type_coerce)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import aliased, load_only, selectinload

from app.accounts.models import User
from app.card_templates.models import CardTemplate, FieldDef
from app.card_templates.services import fields_by_key
from app.db_types import MAX_DB_INT
from app.clients.derived import gram_term
from app.clients.models import Client, ClientFieldValue, ClientSearchGrams
from app.clients.access import visible_clients
from app.extensions import db
from app.values import FIELD_TYPES, normalize_text, phone_digits
from app.text_input import load_json

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
ARCHIVED_CHOICES = ("active", "archived", "all")
BUILTIN_SORTS = ("name", "number", "updated", "grade", "completeness")
SORT_FIELD_TYPES = tuple(name for name, ft in FIELD_TYPES.items() if ft.sortable)
FILTER_FIELD_TYPES = tuple(name for name, ft in FIELD_TYPES.items() if ft.filterable)
# Keys of the list state, in the order they appear in a canonical query string.
STATE_KEYS = ("q", "stage", "grade", "owner", "tag", "archived", "field", "option", "sort", "dir", "limit")
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_PHONE_QUERY = re.compile(r"^[0-9０-９+\-() .（）/]+$")


class ListParamsInvalid(Exception):
    """Unknown or malformed list parameters; `errors` maps the parameter name to a message."""

    def __init__(self, errors: dict):
        super().__init__("invalid list parameters")
        self.errors = errors


@dataclass(frozen=True)
class ListParams:
    q: str = ""
    stage: str | None = None
    grade: str | None = None
    owner: int | str | None = None  # a user id or "none"
    tag: str | None = None
    archived: str = "active"
    field: str | None = None
    option: str | None = None
    sort: str = "updated"
    dir: str = "desc"
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT
    errors: dict = dc_field(default_factory=dict, compare=False)  # what was dropped in lenient parsing

    def to_query(self, *, with_cursor: bool = False, **overrides) -> str:
        """The canonical query string of this list state (defaults left out), e.g. for links and saved views."""
        get = overrides.get
        sort = get("sort", self.sort)
        pairs = []
        for key in STATE_KEYS:
            value = get(key, getattr(self, key))
            if key == "dir":
                keep = value != default_dir(sort)
            else:
                keep = value not in (None, "") and value != _DEFAULT_VALUES[key]
            if keep:
                pairs.append((key, str(value)))
        cursor = get("cursor", self.cursor)
        if with_cursor and cursor:
            pairs.append(("cursor", cursor))
        return urlencode(pairs)

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.stage or self.grade or self.owner or self.tag or self.field
                    or self.archived != "active")


DEFAULTS = ListParams()
_DEFAULT_VALUES = {key: getattr(DEFAULTS, key) for key in STATE_KEYS}


@dataclass
class Page:
    items: list[Client]
    next_cursor: str | None
    total: int | None = None


def default_dir(sort: str) -> str:
    return "desc" if sort in ("updated", "completeness") else "asc"


def list_fields() -> dict[str, FieldDef]:
    """The current tenant's fields the list can sort or filter by (from the cached template: no query)."""
    from app.card_templates.cache import cached_template

    kinds = SORT_FIELD_TYPES + FILTER_FIELD_TYPES
    return {f.key: f for f in cached_template().fields if f.type in kinds and not f.archived and not f.sensitive}


def _field_map(fields) -> dict[str, FieldDef]:
    """Accept what callers have: None (load), a CardTemplate, or a key -> FieldDef mapping."""
    if fields is None:
        return list_fields()
    if isinstance(fields, CardTemplate):
        return fields_by_key(fields, include_archived=False)
    return fields


def sortable_fields(fields=None) -> list[FieldDef]:
    """Fields the list can sort by (number, money, date; not archived, not sensitive)."""
    return [f for f in _field_map(fields).values()
            if f.type in SORT_FIELD_TYPES and not f.sensitive and not f.archived]


def filterable_fields(fields=None) -> list[FieldDef]:
    """Fields the list can filter by option (select, multiselect; not archived, not sensitive)."""
    return [f for f in _field_map(fields).values()
            if f.type in FILTER_FIELD_TYPES and not f.sensitive and not f.archived]


def parse_list_params(args, fields=None, *, strict: bool = True) -> ListParams:
    """Read list parameters from a mapping; strict raises ListParamsInvalid, lenient drops bad ones into .errors.

    `fields`: the tenant's CardTemplate, or list_fields() (loaded when None) to check field keys against."""
    errors: dict = {}
    fields = _field_map(fields)

    def get(name):
        value = args.get(name)
        if isinstance(value, str):
            value = normalize_text(value)
        return value if value not in (None, "") else None

    kw: dict = {}
    q = get("q")
    if q:
        kw["q"] = q[:200]
    for name in ("stage", "grade", "tag"):
        value = get(name)
        if value is not None:
            kw[name] = str(value)[:80]
    owner = get("owner")
    if owner is not None:
        if str(owner) == "none":
            kw["owner"] = "none"
        elif str(owner).isdecimal() and len(str(owner)) < 10:
            kw["owner"] = int(owner)
        else:
            errors["owner"] = _l("Choose an owner from the list.")
    archived = get("archived")
    if archived is not None:
        if archived in ARCHIVED_CHOICES:
            kw["archived"] = archived
        else:
            errors["archived"] = _l("Choose active, archived or all.")
    field_key, option = get("field"), get("option")
    if field_key is not None:
        fd = {f.key: f for f in filterable_fields(fields)}.get(str(field_key))
        if fd is None:
            errors["field"] = _l("The list cannot be filtered by the field %(key)s.", key=str(field_key)[:40])
        elif option is not None:
            if option not in (fd.options or []) and option not in (fd.retired_options or []):
                errors["option"] = _l("%(option)s is not an option of %(label)s.", option=str(option)[:80],
                                      label=fd.t())
            else:
                kw["field"], kw["option"] = fd.key, option
        else:
            kw["field"] = fd.key  # a field chosen, option not yet: no filter
    elif option is not None:
        errors["option"] = _l("Choose the field to filter by first.")
    sort = get("sort")
    if sort is not None:
        if sort in BUILTIN_SORTS or sort in {f.key for f in sortable_fields(fields)}:
            kw["sort"] = sort
        else:
            errors["sort"] = _l("The list cannot be sorted by %(key)s.", key=str(sort)[:40])
    direction = get("dir")
    kw["dir"] = default_dir(kw.get("sort", DEFAULTS.sort))
    if direction is not None:
        if direction in ("asc", "desc"):
            kw["dir"] = direction
        else:
            errors["dir"] = _l("Sort direction is asc or desc.")
    limit = get("limit")
    if limit is not None:
        if str(limit).isdecimal() and 1 <= int(limit) <= MAX_LIMIT:
            kw["limit"] = int(limit)
        else:
            errors["limit"] = _l("Page size is a number from 1 to %(n)d.", n=MAX_LIMIT)
    cursor = get("cursor")
    if cursor is not None:
        params_so_far = ListParams(**kw)
        if _decode_cursor(str(cursor), params_so_far) is None:
            errors["cursor"] = _l("This page link is no longer valid; start from the first page.")
        else:
            kw["cursor"] = str(cursor)
    if errors and strict:
        raise ListParamsInvalid(errors)
    return ListParams(**kw, errors=errors)


# ---------------------------------------------------------------- query building

def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _option_condition(key: str, value: str):
    """values[key] == value (select) or value in values[key] (multiselect): a lookup in ClientFieldValue,
    which has one row per option (indexed by tenant, key, option, client)."""
    # IN, not a correlated EXISTS: the planner can then either walk the sort index probing the (small) id set, or
    # start from the ids (a count reads only the matching cards instead of testing every card of the tenant).
    fv = aliased(ClientFieldValue, name="fv_filter")
    return Client.id.in_(select(fv.client_id).where(fv.key == key, fv.txt == value))


def _tag_condition(tag: str):
    if _dialect() == "postgresql":
        return type_coerce(Client.tags, JSONB).contains([tag])
    each = func.json_each(Client.tags).table_valued("value").alias("tg")
    return exists(select(literal(1)).select_from(each).where(each.c.value == tag))


_FTS = table("client_fts", column("rowid"), column("client_fts"))
_GRAMS_FTS = table("client_grams_fts", column("rowid"), column("client_grams_fts"))
_GRAM_ARRAY = literal_column("string_to_array(client_search_grams.grams, ' ')")  # as in the GIN index


def _gram_ids(terms: list[str]):
    """Ids of the cards whose search text holds every one of these one- or two-character terms, from the n-gram
    index in one lookup (the index intersects the terms; separate lookups made PostgreSQL scan the whole table for
    a common pair such as 国际)."""
    if _dialect() == "postgresql":
        return select(ClientSearchGrams.client_id).where(_GRAM_ARRAY.op("@>")(literal(terms, ARRAY(Text))))
    return select(_GRAMS_FTS.c.rowid).where(_GRAMS_FTS.c.client_grams_fts.match(" AND ".join(f'"{t}"' for t in terms)))


def _term_condition(term: str, raw: str) -> tuple:
    """One search word: (condition, n-gram term or None). The condition is a substring of the search text (which
    holds the name's pinyin and initials too); a phone-like word also matches by its digits. An index narrows the
    cards first whatever the word's length: the n-gram index for one- and two-character words (the caller looks up
    all of a query's such words at once), trigrams for longer ones (SQLite FTS5 here, pg_trgm under the LIKE on
    PostgreSQL). The LIKE still decides, so the result is exactly the substring match."""
    terms = [term]
    if _PHONE_QUERY.match(raw):
        digits = phone_digits(raw)
        if len(digits) >= 3 and digits != term:
            terms.append(digits)
    cond = or_(*[Client.search_text.contains(t, autoescape=True) for t in terms])
    if len(terms) == 1 and gram_term(term):
        return cond, term
    if _dialect() == "sqlite" and all(len(t) >= 3 for t in terms):
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        cond = and_(Client.id.in_(select(_FTS.c.rowid).where(_FTS.c.client_fts.match(match))), cond)
    return cond, None


def search_condition(q: str):
    """Every word of the query must match (郑州 汽车: both), each as in _term_condition."""
    words = [w for w in normalize_text(q).split() if w]
    if not words:
        return true()
    conds, grams = [], []
    for w in dict.fromkeys(words):
        cond, gram = _term_condition(w.lower(), w)
        conds.append(cond)
        if gram:
            grams.append(gram)
    if grams:
        conds.insert(0, Client.id.in_(_gram_ids(grams)))
    return and_(*conds)


def filtered_query(user: User, params: ListParams, fields=None):
    """visible_clients(user) narrowed by the search and filters of `params` (no order, no paging)."""
    stmt = visible_clients(user)
    if params.archived == "active":
        stmt = stmt.where(Client.archived_at.is_(None))
    elif params.archived == "archived":
        stmt = stmt.where(Client.archived_at.is_not(None))
    if params.q:
        stmt = stmt.where(search_condition(params.q))
    if params.stage:
        stmt = stmt.where(Client.stage == params.stage)
    if params.grade:
        stmt = stmt.where(Client.grade.is_(None) if params.grade == "none" else Client.grade == params.grade)
    if params.owner == "none":
        stmt = stmt.where(Client.owner_id.is_(None))
    elif params.owner is not None:
        stmt = stmt.where(Client.owner_id == params.owner)
    if params.tag:
        stmt = stmt.where(_tag_condition(params.tag))
    if params.field and params.option:
        stmt = stmt.where(_option_condition(params.field, params.option))
    return stmt


def _sort_expr(params: ListParams, fields):
    """(expression, nullable, kind) of the sort key; kind says how a cursor value is decoded."""
    if params.sort == "name":
        return Client.name_sort, False, "str"  # pinyin order
    if params.sort == "number":
        return Client.number, False, "str"
    if params.sort == "updated":
        return Client.updated_at, False, "datetime"
    if params.sort == "completeness":
        return Client.completeness, False, "float"
    if params.sort == "grade":
        return Client.grade, True, "str"
    fd = _field_map(fields).get(params.sort)
    if fd is not None and _index_kind(fd) == "txt":
        return Client.values[params.sort].as_string(), True, "str"
    return Client.values[params.sort].as_float(), True, "float"


def _index_kind(fd: FieldDef) -> str | None:
    """Which value index column a field's values sort by ("num" or "txt")."""
    ft = FIELD_TYPES.get(fd.type)
    return ft.index if ft else None


def _encode_cursor(value, client_id: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([value, client_id], ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, params: ListParams):
    """(value, id) from a cursor, or None when it is malformed or does not fit the sort."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, client_id = load_json(raw)  # refuses NUL (PostgreSQL) and deep nesting, as ValueError
    except (ValueError, binascii.Error, TypeError):
        return None
    if not isinstance(client_id, int) or isinstance(client_id, bool) or not 0 <= client_id <= MAX_DB_INT:
        return None  # beyond the id column's range PostgreSQL would fail the query
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not abs(value) < 1e300:
        return None  # NaN/huge numbers are no sort value we ever hand out
    kind = {"name": "str", "number": "str", "updated": "datetime", "completeness": "float",
            "grade": "str"}.get(params.sort)
    if value is None:
        return (None, client_id) if kind in (None, "str") and params.sort not in ("name", "number") else None
    if kind == "datetime":
        try:
            return datetime.fromisoformat(value), client_id
        except (TypeError, ValueError):
            return None
    if kind == "float" and not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    if kind == "str" and not isinstance(value, str):
        return None
    if kind is None and not isinstance(value, (str, int, float)):
        return None
    return value, client_id


def _ordered(stmt, params: ListParams, fields):
    expr, nullable, _kind = _sort_expr(params, fields)
    desc = params.dir == "desc"
    order = []
    if nullable:
        order.append(expr.is_(None))  # empty values last in both directions
    order += [expr.desc() if desc else expr.asc(), Client.id.desc() if desc else Client.id.asc()]
    if params.cursor:
        value, last_id = _decode_cursor(params.cursor, params)
        after_id = Client.id < last_id if desc else Client.id > last_id
        if value is None:
            cond = and_(expr.is_(None), after_id)
        else:
            beyond = expr < value if desc else expr > value
            cond = or_(beyond, and_(expr == value, after_id))
            if nullable:
                cond = or_(cond, expr.is_(None))
        stmt = stmt.where(cond)
    return stmt.order_by(*order), expr


LIST_COLUMNS = (Client.id, Client.tenant_id, Client.number, Client.name, Client.stage, Client.grade,
                Client.owner_id, Client.tags, Client.completeness, Client.version, Client.archived_at,
                Client.updated_at, Client.created_at)


def _by_field(user: User, params: ListParams, fields, columns) -> list:
    """Rows (client, sort value) for a sort by a number, money or date field, through ClientFieldValue: first the
    cards with a value, walking the (tenant, key, value, client) index in order, then those without, by id."""
    fd = fields.get(params.sort)
    fv = aliased(ClientFieldValue, name="fv_sort")
    value_col = fv.txt if fd is not None and _index_kind(fd) == "txt" else fv.num
    desc = params.dir == "desc"
    want = params.limit + 1
    cursor = _decode_cursor(params.cursor, params) if params.cursor else None
    base = filtered_query(user, params, fields)
    rows = []
    if cursor is None or cursor[0] is not None:
        stmt = base.join(fv, and_(fv.tenant_id == Client.tenant_id, fv.client_id == Client.id,
                                  fv.key == params.sort))
        if cursor is not None:
            value, last_id = cursor
            if isinstance(value, str) != (value_col is fv.txt):
                stmt = stmt.where(false_())  # a cursor of another kind of sort: go on with the cards without a value
            else:
                after_id = fv.client_id < last_id if desc else fv.client_id > last_id
                beyond = value_col < value if desc else value_col > value
                stmt = stmt.where(or_(beyond, and_(value_col == value, after_id)))
        order = [value_col.desc(), fv.client_id.desc()] if desc else [value_col.asc(), fv.client_id.asc()]
        stmt = stmt.add_columns(value_col.label("_sort_value")).order_by(*order).limit(want)
        rows = db.session.execute(stmt.options(*columns)).all()
    if len(rows) < want:  # cards without a value come last, in both directions
        has = aliased(ClientFieldValue, name="fv_has")
        stmt = base.where(~exists(select(literal(1)).where(has.tenant_id == Client.tenant_id,
                                                           has.client_id == Client.id, has.key == params.sort)))
        if cursor is not None and cursor[0] is None:
            stmt = stmt.where(Client.id < cursor[1] if desc else Client.id > cursor[1])
        stmt = (stmt.add_columns(null().label("_sort_value"))
                .order_by(Client.id.desc() if desc else Client.id.asc()).limit(want - len(rows)))
        rows += db.session.execute(stmt.options(*columns)).all()
    return rows


def list_clients(user: User, params: ListParams, fields=None, *, with_values: bool = False) -> Page:
    """One page of the clients `user` may see, filtered and sorted by `params`; keyset-paged by (sort value, id).

    `fields` as for parse_list_params; pass the same object to avoid loading it twice."""
    fields = _field_map(fields)
    # Co-owners in one batched query for the whole page (every row's access decision reads them): the page runs
    # the same statements whatever its size.
    columns = [selectinload(Client.co_owner_links),
               load_only(*LIST_COLUMNS, *((Client.values, Client.grade_source) if with_values else ()))]
    if params.sort not in BUILTIN_SORTS:
        rows = _by_field(user, params, fields, columns)
    else:
        stmt, expr = _ordered(filtered_query(user, params, fields), params, fields)
        stmt = stmt.add_columns(expr.label("_sort_value")).limit(params.limit + 1)
        rows = db.session.execute(stmt.options(*columns)).all()
    items = [row[0] for row in rows[:params.limit]]
    next_cursor = None
    if len(rows) > params.limit:
        last = rows[params.limit - 1]
        next_cursor = _encode_cursor(last[1], last[0].id)
    return Page(items=items, next_cursor=next_cursor)


COUNT_CAP = 1000  # a total beyond this is shown as "1,000+": counting never costs more than the page


def count_clients(user: User, params: ListParams, fields=None) -> int:
    """How many clients match `params` (search and filters; the cursor and sort are ignored), up to COUNT_CAP + 1:
    a result above COUNT_CAP means "more than COUNT_CAP" (see count_label)."""
    inner = (filtered_query(user, params, fields).with_only_columns(Client.id).order_by(None)
             .limit(COUNT_CAP + 1).subquery())
    return db.session.execute(select(func.count()).select_from(inner)).scalar_one()


def total_exact(total: int) -> bool:
    return total <= COUNT_CAP


def count_label(total: int) -> str:
    """The total as shown: exact, or "1,000+" when there are more."""
    return f"{total:,}" if total_exact(total) else f"{COUNT_CAP:,}+"


__all__ = ["ListParams", "ListParamsInvalid", "Page", "parse_list_params", "list_clients", "count_clients",
           "filtered_query", "search_condition", "list_fields", "sortable_fields", "filterable_fields"]
