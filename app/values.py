"""The value library: one parser/formatter per card field type, and FIELD_TYPES, the registry of types.

FIELD_TYPES (at the end of this module) holds one entry per type with everything the rest of the app
knows about it: label, parse, display, search text, value index kind, list sorting and filtering,
options, the form widget and the JSON schema of its value.  Adding a type means adding one entry.

Used by the HTML forms, the JSON API and the Excel import alike, so Chinese
input formats are understood everywhere.  The *stored* form (inside the JSON
column) is the same as the JSON API form: the normalized value returned by
:func:`parse_value`.

Decisions (kept in one place so that reviewers can see them):

* Text keeps what the user typed: we do NOT apply NFKC (it would turn the
  Chinese punctuation "，" "（" "：" into ASCII).  We only convert full-width
  ASCII letters/digits and the ideographic space to half-width, drop control
  characters, strip, and (single-line ``text``) collapse whitespace runs into
  one space.  ``textarea`` keeps line breaks (``\\r\\n``/``\\r`` -> ``\\n``).
* Structured types (number, money, date, phone, email, url, select, boolean)
  are read after NFKC, so full-width digits/letters/punctuation always work.
* number: int when integral, else float.  "1,234", "１２３", "1.5万", "2亿",
  "3千", "1.2千万", "3.5k", "5w", "1e3" accepted; "12%" and text rejected;
  |value| <= 10^15 (beyond that JSON/JS lose precision).
* money: yuan, rounded half-up to 2 decimals, int when whole.  Accepts the
  number formats plus ¥/￥/RMB/CNY/人民币 prefixes and 元/圆/块/元整 suffixes
  ("50万元", "￥500,000", "RMB 500000").  Negative allowed.  |value| < 10^13.
  Display: "¥500,000", "¥1,234.50", "-¥20".
* date: "YYYY-MM-DD".  Accepts 2024-06-30, 2024/6/30, 2024.6.30, 2024 6 30,
  2024年6月30日/号, 20240630, an optional trailing time (Excel/ISO), full-width
  digits, date/datetime objects and (non-string numbers only) Excel serial
  day numbers.  A month without a day ("2024年6月") is rejected rather than
  silently turned into the 1st.  Years 1900..2100 only (catches typos).
  Day-first/month-first forms ("30/6/2024") are rejected as ambiguous.
* boolean: True/False from 是/否, 有/无, 对/错, yes/no, y/n, true/false, 1/0,
  on/off, ✓/✗ ...; displayed as 是/否.
* phone: mobile -> "13800138000" (country code +86/0086/86 removed);
  landline -> "010-56781234" / "0755-1234567", extension "010-56781234-808"
  (given with 转/分机/ext/x/# or as a third "-" group); 400/800 ->
  "400-123-4567"; other +country numbers (or 00-prefixed) keep "+" and digit
  groups separated by single spaces ("+1 415 555 1234", "... ext 12"); 5-8
  digit numbers without area code (95588, 8888 6666) are kept as digits.
  Extensions of 400 and area-less numbers are written "400-123-4567转8".
  Letters, more than one number, a mobile with an extension, malformed
  mobiles (1xxxxxxxx of the wrong length) and < 5 digits are rejected.
* person: int user id; a unique display name (spec["person_names"]) or "#12"
  is also accepted, which makes display -> parse round-trip.
* table: list of row dicts keyed by column key (a column label is accepted
  as key too, for imports); empty cells omitted, empty rows dropped.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, DecimalException
from typing import Any, Callable
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l

TEXT_MAX_LENGTH = 2000
TEXTAREA_MAX_LENGTH = 20000
TABLE_MAX_ROWS = 200
NUMBER_LIMIT = Decimal(10) ** 15
MONEY_LIMIT = Decimal(10) ** 13
DATE_MIN_YEAR, DATE_MAX_YEAR = 1900, 2100
EMAIL_MAX_LENGTH = 254
URL_MAX_LENGTH = 2000


class InvalidValue(Exception):
    """A value that cannot be stored; ``message`` is a translated (lazy) string."""

    def __init__(self, message, **params):
        super().__init__(message)
        self.message = message
        self.params = params

    def __str__(self) -> str:
        try:
            return str(self.message)
        except Exception:  # pragma: no cover - formatting must never hide the error
            return repr(self.message)


# ---------------------------------------------------------------------------
# small helpers


_HALFWIDTH = {o: o - 0xFEE0 for o in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))}
_HALFWIDTH[0x3000] = 0x20


def _halfwidth_ascii(s: str) -> str:
    """Full-width ASCII letters/digits and the ideographic space to half-width; nothing else (a hot path of
    imports: one str.translate)."""
    return s if s.isascii() else s.translate(_HALFWIDTH)


_DROP_CF = {"\u200b", "\ufeff", "\u2060"}
# Every character _clean_chars changes: control (Cc), surrogate (Cs) and the zero-width ones above.
_JUNK = re.compile("[\x00-\x1f\x7f-\x9f\u200b\ufeff\u2060\ud800-\udfff]")


def _clean_chars(s: str, keep_newlines: bool = False) -> str:
    """Remove control characters, lone surrogates and zero-width junk."""
    if not _JUNK.search(s):  # the usual case, and a hot path of imports: nothing to remove
        return s
    out = []
    for ch in s:
        if ch in _DROP_CF:
            continue
        cat = unicodedata.category(ch)
        if cat == "Cs":
            continue
        if cat == "Cc":
            if keep_newlines and ch in "\n\t":
                out.append(ch)
            elif ch in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85":
                out.append(" ")
            continue
        out.append(ch)
    return "".join(out)


def normalize_text(s) -> str:
    """NFKC (full-width -> half-width), collapse inner whitespace, strip."""
    if s is None:
        return ""
    s = _clean_chars(unicodedata.normalize("NFKC", str(s)))
    return " ".join(s.split())


def is_empty(value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not _clean_chars(value).strip()
    if isinstance(value, dict):
        return all(is_empty(v) for v in value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(is_empty(v) for v in value)
    return False


def _str_input(raw, what) -> str:
    """Accept str (and plain scalars) as text input; reject containers."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "是" if raw else "否"
    if isinstance(raw, (int, float, Decimal)):
        if _decimal_from_raw(raw) is None:  # NaN / infinity
            raise InvalidValue(what)
        return _plain_number(raw)
    raise InvalidValue(what)


def _plain_number(v) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        if v.is_integer() and abs(v) < 1e16:
            return str(int(v))
        return format(Decimal(repr(v)), "f")
    if isinstance(v, Decimal):
        return format(v, "f")
    return str(v)


def _choices_text(options) -> str:
    return "、".join(str(o) for o in options)


# ---------------------------------------------------------------------------
# text / textarea


def _parse_text(raw, spec, multiline: bool):
    msg = _l("Enter text.")
    if isinstance(raw, (_dt.date, _dt.datetime)):
        s = _display_date(_parse_date(raw))
    else:
        s = _str_input(raw, msg)
    s = _halfwidth_ascii(s)
    if multiline:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
        s = _clean_chars(s, keep_newlines=True)
        s = s.strip()
        limit = int(spec.get("max_length") or TEXTAREA_MAX_LENGTH)
    else:
        s = " ".join(_clean_chars(s).split())
        limit = int(spec.get("max_length") or TEXT_MAX_LENGTH)
    if not s:
        return None
    if len(s) > limit:
        raise InvalidValue(
            _l("This text is too long (%(length)s characters); shorten it to at most %(max)s characters.",
               length=len(s), max=limit),
            length=len(s), max=limit,
        )
    return s


# ---------------------------------------------------------------------------
# number / money

_UNITS = {"百": 100, "千": 1000, "k": 1000, "万": 10 ** 4, "萬": 10 ** 4, "w": 10 ** 4,
          "亿": 10 ** 8, "億": 10 ** 8}
_NUM_RE = re.compile(
    r"^([+-]?)([0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(?:\.([0-9]*))?(?:e([+-]?[0-9]{1,3}))?([百千万萬亿億kw]{0,4})$"
)
_MINUS_CHARS = "\u2212\u2012\u2013\u2014\ufe63"


def _decimal_from_text(s: str):
    """Parse a normalized numeric string (units allowed). Returns Decimal or None."""
    s = unicodedata.normalize("NFKC", s)
    for ch in _MINUS_CHARS:
        s = s.replace(ch, "-")
    s = "".join(s.split()).lower()
    m = _NUM_RE.match(s)
    if not m:
        return None
    sign, int_part, frac, exp, units = m.groups()
    if not (int_part or frac):
        return None
    try:
        d = Decimal((int_part or "0").replace(",", "") + ("." + frac if frac else ""))
        if exp:
            d = d.scaleb(int(exp))
        for u in units:
            d *= _UNITS[u]
    except (DecimalException, ValueError, OverflowError):
        return None
    return -d if sign == "-" else d


def _decimal_from_raw(raw):
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        if not math.isfinite(raw):
            return None
        return Decimal(repr(raw))
    if isinstance(raw, Decimal):
        return raw if raw.is_finite() else None
    return None


def _to_json_number(d: Decimal):
    if d == d.to_integral_value():
        return int(d)
    return float(d)


def _parse_number(raw, spec):
    msg = _l("Enter a number such as 1234, 1,234.5 or 1.5万.")
    if isinstance(raw, str):
        if "%" in raw or "％" in raw:
            raise InvalidValue(_l("Enter the number without the percent sign: for %(example)s enter 12 or 0.12.",
                                  example="12%"))
        d = _decimal_from_text(raw)
    else:
        d = _decimal_from_raw(raw)
    if d is None:
        raise InvalidValue(msg)
    if abs(d) > NUMBER_LIMIT:
        raise InvalidValue(_l("This number is too large; enter a number up to 10^15."))
    value = _to_json_number(d)
    if isinstance(value, float) and not math.isfinite(value):  # pragma: no cover - guarded by the limit
        raise InvalidValue(msg)
    if value == 0:
        value = 0
    return value


_MONEY_PREFIX = re.compile(r"^([+-]?)(?:¥|rmb|cny|人民币)+")
_MONEY_SUFFIX = re.compile(r"(?:元整|元|圆|块钱|块|人民币|rmb|cny)$")


def _parse_money(raw, spec):
    msg = _l("Enter an amount in yuan such as 500000, ¥500,000, 50万 or 1.2亿.")
    if isinstance(raw, str):
        s = unicodedata.normalize("NFKC", raw)
        for ch in _MINUS_CHARS:
            s = s.replace(ch, "-")
        s = "".join(s.split()).lower()
        if "%" in s:
            raise InvalidValue(msg)
        s = _MONEY_PREFIX.sub(r"\1", s)
        s = _MONEY_SUFFIX.sub("", s)
        d = _decimal_from_text(s) if s else None
    else:
        d = _decimal_from_raw(raw)
    if d is None:
        raise InvalidValue(msg)
    if abs(d) >= MONEY_LIMIT:
        raise InvalidValue(_l("This amount is too large; enter an amount below 10,000,000,000,000 yuan."))
    d = d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    value = _to_json_number(d)
    if value == 0:
        value = 0
    return value


def _display_number(v) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return format(v, ",")
    if isinstance(v, float):
        if v.is_integer():
            return format(int(v), ",")
        return format(Decimal(repr(v)), ",f")
    if isinstance(v, Decimal):
        return format(v, ",f")
    return str(v)


def _display_money(v) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float, Decimal)):
        return str(v)
    d = Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
    sign = "-" if d < 0 else ""
    d = abs(d).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if d == d.to_integral_value():
        body = format(int(d), ",")
    else:
        body = format(d, ",.2f")
    return f"{sign}¥{body}"


# ---------------------------------------------------------------------------
# date

_DATE_RES = [
    re.compile(r"^(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})$"),
    re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号號]?$"),
    re.compile(r"^(\d{4})\s+(\d{1,2})\s+(\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
]
_TIME_TAIL = re.compile(r"(?:[T\s]\s*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:z|[+-]\d{2}:?\d{2})?)$", re.I)
_PARTIAL_DATE = re.compile(r"^(\d{4})\s*(?:年\s*(\d{1,2})\s*月?|[-/.]\s*(\d{1,2}))$")


def _date_msg():
    return _l("Enter a date such as 2024-06-30 or 2024年6月30日.")


def _check_date(y: int, m: int, d: int) -> str:
    if not DATE_MIN_YEAR <= y <= DATE_MAX_YEAR:
        raise InvalidValue(
            _l("The year %(year)s looks wrong; enter a year between 1900 and 2100, e.g. 2024-06-30.", year=y),
            year=y,
        )
    try:
        day = _dt.date(y, m, d)
    except ValueError:
        text = f"{y:04d}-{m:02d}-{d:02d}"
        raise InvalidValue(
            _l("%(date)s is not a real date; check the month and day (e.g. 2024-06-30).", date=text),
            date=text,
        ) from None
    return day.isoformat()


def _parse_date(raw, spec=None):
    if isinstance(raw, _dt.datetime):
        return _check_date(raw.year, raw.month, raw.day)
    if isinstance(raw, _dt.date):
        return _check_date(raw.year, raw.month, raw.day)
    if isinstance(raw, bool):
        raise InvalidValue(_date_msg())
    if isinstance(raw, (int, float, Decimal)):
        return _date_from_number(raw)
    if not isinstance(raw, str):
        raise InvalidValue(_date_msg())
    s = normalize_text(raw)
    s = s.replace("〇", "0")
    s = _TIME_TAIL.sub("", s).strip() if len(s) > 10 else s
    for rx in _DATE_RES:
        m = rx.match(s)
        if m:
            return _check_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if _PARTIAL_DATE.match(s):
        raise InvalidValue(_l("Enter the full date including the day, e.g. 2024-06-30 or 2024年6月30日."))
    raise InvalidValue(_date_msg())


def _date_from_number(raw):
    try:
        f = float(raw)
    except (OverflowError, ValueError):  # pragma: no cover
        raise InvalidValue(_date_msg()) from None
    if not math.isfinite(f) or f != int(f) and not (1 <= f < 100000):
        raise InvalidValue(_date_msg())
    if 19000101 <= f <= 21001231 and f == int(f):
        n = int(f)
        return _check_date(n // 10000, n // 100 % 100, n % 100)
    if 1 <= f < 100000:  # Excel serial day number (1900 date system)
        day = _dt.date(1899, 12, 30) + _dt.timedelta(days=int(f))
        return _check_date(day.year, day.month, day.day)
    raise InvalidValue(_date_msg())


def _display_date(v) -> str:
    if isinstance(v, _dt.datetime):
        v = v.date()
    if isinstance(v, _dt.date):
        return v.isoformat()
    return str(v)


# ---------------------------------------------------------------------------
# select / multiselect


def _option_lists(spec):
    options = [str(o) for o in (spec.get("options") or [])]
    retired = [str(o) for o in (spec.get("retired_options") or []) if str(o) not in options]
    return options, retired


def _option_key(s: str) -> str:
    return normalize_text(s).casefold()


def _match_option(token: str, spec):
    """Canonical option for token, or raise InvalidValue."""
    options, retired = _option_lists(spec)
    key = _option_key(token)
    allowed = options + (retired if spec.get("allow_retired") else [])
    for exact in (True, False):
        for opt in allowed:
            if (normalize_text(opt) == normalize_text(token)) if exact else (_option_key(opt) == key):
                return opt
    if any(_option_key(o) == key for o in retired):
        raise InvalidValue(
            _l("“%(value)s” is no longer an option; choose one of: %(choices)s.",
               value=normalize_text(token), choices=_choices_text(options)),
            value=normalize_text(token), choices=options,
        )
    if not options:
        raise InvalidValue(_l("This field has no options to choose from yet."))
    raise InvalidValue(
        _l("“%(value)s” is not an option; choose one of: %(choices)s.",
           value=normalize_text(token)[:100], choices=_choices_text(options)),
        value=normalize_text(token)[:100], choices=options,
    )


def _parse_select(raw, spec):
    if isinstance(raw, (list, tuple)):
        items = [x for x in raw if not is_empty(x)]
        if not items:
            return None
        if len(items) > 1:
            raise InvalidValue(_l("Choose only one option."))
        raw = items[0]
    s = _str_input(raw, _l("Choose one of the options."))
    if not normalize_text(s):
        return None
    return _match_option(s, spec)


_MULTI_SEPS = ",、;/|\n"


def _split_multi(s: str, spec) -> list[str]:
    """Split a multiselect string; options that themselves contain separators win (longest first)."""
    s = unicodedata.normalize("NFKC", s).replace("\r", "\n")
    s = _clean_chars(s, keep_newlines=True).replace("\t", " ")
    options, retired = _option_lists(spec)
    known = sorted({normalize_text(o) for o in options + retired if normalize_text(o)}, key=len, reverse=True)
    tokens, i, n = [], 0, len(s)
    while i < n:
        if s[i] in _MULTI_SEPS or s[i].isspace():
            i += 1
            continue
        for opt in known:
            end = i + len(opt)
            if s[i:end].casefold() == opt.casefold():
                j = end
                while j < n and s[j].isspace() and s[j] != "\n":
                    j += 1
                if j >= n or s[j] in _MULTI_SEPS:
                    tokens.append(s[i:end])
                    i = j
                    break
        else:
            j = i
            while j < n and s[j] not in _MULTI_SEPS:
                j += 1
            tokens.append(s[i:j])
            i = j
    return [t for t in tokens if normalize_text(t)]


def _parse_multiselect(raw, spec):
    if isinstance(raw, (list, tuple, set, frozenset)):
        items = []
        for x in raw:
            if is_empty(x):
                continue
            items.append(_str_input(x, _l("Choose options from the list.")))
    else:
        s = _str_input(raw, _l("Choose options from the list."))
        items = _split_multi(s, spec)
    if not items:
        return None
    chosen = {_match_option(x, spec) for x in items}
    options, retired = _option_lists(spec)
    return [o for o in options + retired if o in chosen]


# ---------------------------------------------------------------------------
# boolean

_TRUE = {"true", "t", "yes", "y", "1", "on", "是", "是的", "有", "对", "對", "真", "√", "✓", "✔", "☑", "已", "checked"}
_FALSE = {"false", "f", "no", "n", "0", "off", "否", "不是", "无", "無", "没有", "沒有", "错", "錯", "假",
          "×", "✗", "✘", "☐", "未", "unchecked"}


def _parse_boolean(raw, spec):
    msg = _l("Enter 是 or 否 (yes or no).")
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool):
        if _decimal_from_raw(raw) is None:
            raise InvalidValue(msg)
        if raw == 1:
            return True
        if raw == 0:
            return False
        raise InvalidValue(msg)
    if not isinstance(raw, str):
        raise InvalidValue(msg)
    s = normalize_text(raw).casefold()
    if not s:
        return None
    s = s.rstrip(".。!！")
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise InvalidValue(msg)


# ---------------------------------------------------------------------------
# phone


_EXT_RE = re.compile(r"(?:转|轉|分机|分機|ext\.?|x|#)\s*([0-9]{1,6})\s*$", re.I)
_PHONE_ALLOWED = re.compile(r"^[0-9+\-() ./]*$")


def _mobile_ok(d: str) -> bool:
    return len(d) == 11 and d[0] == "1" and d[1] in "3456789"


def _split_landline(d: str):
    """'01056781234' -> ('010', '56781234') or None."""
    if len(d) < 3 or d[0] != "0":
        return None
    area_len = 3 if d[1] in "12" else 4
    if d[1] == "1" and d[:3] != "010":
        return None
    area, local = d[:area_len], d[area_len:]
    if d[1] == "0" or len(area) != area_len:
        return None
    if 7 <= len(local) <= 8 and local[0] not in "01":
        return area, local
    return None


def phone_digits(s) -> str:
    """Digits only; a leading +86/0086/86 country code of a mobile (and +86/0086 of a landline) removed."""
    if s is None:
        return ""
    t = unicodedata.normalize("NFKC", str(s)).strip()
    d = "".join(ch for ch in t if "0" <= ch <= "9")
    if t.startswith("+86"):
        rest = d[2:]
    elif d.startswith("0086"):
        rest = d[4:]
    elif d.startswith("86") and len(d) == 13 and _mobile_ok(d[2:]):
        return d[2:]
    else:
        return d
    if not rest or rest.startswith(("0", "400", "800")) or _mobile_ok(rest[:11]):
        return rest
    return "0" + rest


def _parse_phone(raw, spec):
    msg = _l("Enter a phone number such as 13800138000, 010-56781234 or +1 415 555 1234.")
    if isinstance(raw, bool):
        raise InvalidValue(msg)
    if isinstance(raw, int):
        raw = str(raw)
    elif isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
        raw = str(int(raw))
    if not isinstance(raw, str):
        raise InvalidValue(msg)
    s = normalize_text(raw)
    if not s:
        return None
    ext = None
    m = _EXT_RE.search(s)
    if m:
        ext = m.group(1)
        s = s[: m.start()].strip()
    s = s.replace("(", " ").replace(")", " ").strip()
    if not _PHONE_ALLOWED.match(s) or "+" in s[1:]:
        raise InvalidValue(msg)
    groups = re.findall(r"[0-9]+", s)
    digits = "".join(groups)
    if len(digits) < 5:
        raise InvalidValue(_l("This phone number is too short; enter at least 5 digits, e.g. 13800138000."))
    if len(digits) > 20:
        raise InvalidValue(_l("Enter one phone number per field, e.g. 13800138000."))

    international = s.startswith("+") or (digits.startswith("00") and not digits.startswith("0086"))
    cc86 = False
    if s.startswith("+"):
        if digits.startswith("86"):
            digits = digits[2:]
            groups = _drop_prefix(groups, 2)
            international = False
            cc86 = True
    elif digits.startswith("0086"):
        digits = digits[4:]
        groups = _drop_prefix(groups, 4)
        international = False
        cc86 = True
    elif digits.startswith("00"):
        digits = digits[2:]
        groups = _drop_prefix(groups, 2)
    elif digits.startswith("86") and _mobile_ok(digits[2:]):
        digits = digits[2:]
        groups = _drop_prefix(groups, 2)

    if international:
        if len(digits) < 5:
            raise InvalidValue(msg)
        out = "+" + " ".join(groups)
        return f"{out} ext {ext}" if ext else out

    if not digits:
        raise InvalidValue(msg)
    if cc86:
        # +86 followed by a landline without its trunk 0
        if not _mobile_ok(digits) and not digits.startswith(("0", "400", "800")):
            digits = "0" + digits
            groups = ["0" + groups[0]] + groups[1:] if groups else groups

    # mobile (also "0" + mobile, an old long-distance habit)
    if digits.startswith("0") and _mobile_ok(digits[1:]):
        digits = digits[1:]
    if _mobile_ok(digits):
        if ext:
            raise InvalidValue(_l("A mobile number has no extension; enter just the 11 digits, e.g. 13800138000."))
        return digits
    if digits[0] == "1" and 7 <= len(digits) <= 13:
        raise InvalidValue(_l("Enter an 11-digit mobile number such as 13800138000."))

    def with_ext(base, mark="-"):
        return f"{base}{mark}{ext}" if ext else base

    if len(digits) == 10 and digits[:3] in ("400", "800"):
        return with_ext(f"{digits[:3]}-{digits[3:6]}-{digits[6:]}", "转")
    if digits[0] == "0":
        if ext is None and len(groups) >= 3 and groups[0].startswith("0"):
            head = _split_landline("".join(groups[:2]))
            if head and head[0] == groups[0] and len(groups[-1]) <= 6 and len(groups) == 3:
                ext = groups[2]
                return with_ext(f"{head[0]}-{head[1]}")
        whole = _split_landline(digits)
        if whole:
            return with_ext(f"{whole[0]}-{whole[1]}")
        if ext is None and len(groups) >= 2 and len(groups[-1]) <= 6:
            head = _split_landline("".join(groups[:-1]))
            if head:
                ext = groups[-1]
                return with_ext(f"{head[0]}-{head[1]}")
        raise InvalidValue(
            _l("Enter a landline with its area code, e.g. 010-56781234 or 0755-26781234."))
    if 5 <= len(digits) <= 8:  # service numbers (95588) and local numbers without area code
        return with_ext(digits, "转")
    raise InvalidValue(msg)


def _drop_prefix(groups, n):
    out = list(groups)
    while n > 0 and out:
        if len(out[0]) <= n:
            n -= len(out[0])
            out.pop(0)
        else:
            out[0] = out[0][n:]
            n = 0
    return out


# ---------------------------------------------------------------------------
# email / url

_EMAIL_LOCAL = re.compile(r"^[^\s@<>()\[\]\\,;:\"]+$")
_DOMAIN_LABEL = re.compile(r"^[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?$")


def _valid_domain(host: str) -> bool:
    labels = host.split(".")
    if len(labels) < 2 or len(host) > 253:
        return False
    if not all(_DOMAIN_LABEL.match(lab) for lab in labels):
        return False
    tld = labels[-1]
    return len(tld) >= 2 and not tld.isdigit() and not any(c.isdigit() for c in tld[:1])


def _parse_email(raw, spec):
    msg = _l("Enter an email address such as name@example.com.")
    if not isinstance(raw, str):
        raise InvalidValue(msg)
    s = normalize_text(raw)
    if not s:
        return None
    if s.lower().startswith("mailto:"):
        s = s[7:].strip()
    s = s.strip("<>").strip()
    if " " in s or s.count("@") != 1 or len(s) > EMAIL_MAX_LENGTH:
        raise InvalidValue(msg)
    local, domain = s.split("@")
    domain = domain.replace("。", ".").lower().rstrip(".")
    if (not local or not _EMAIL_LOCAL.match(local) or local.startswith(".") or local.endswith(".")
            or ".." in local or not _valid_domain(domain)):
        raise InvalidValue(msg)
    return f"{local}@{domain}"


_SCHEME_RE = re.compile(r"^([a-z][a-z0-9+.\-]*):(?![0-9])", re.I)


def _parse_url(raw, spec):
    msg = _l("Enter a web address such as www.example.com or https://example.com.")
    if not isinstance(raw, str):
        raise InvalidValue(msg)
    s = normalize_text(raw)
    if not s:
        return None
    if " " in s or len(s) > URL_MAX_LENGTH:
        raise InvalidValue(msg)
    m = _SCHEME_RE.match(s)
    if m:
        if m.group(1).lower() not in ("http", "https"):
            raise InvalidValue(_l("Only http:// and https:// web addresses are allowed."))
        if not s[m.end():].startswith("//"):
            raise InvalidValue(msg)
    elif s.startswith("//"):
        s = "https:" + s
    else:
        s = "https://" + s
    try:
        parts = urlsplit(s)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        raise InvalidValue(msg) from None
    if "@" in parts.netloc or not host:
        raise InvalidValue(msg)
    host = host.replace("。", ".").lower().rstrip(".")
    ip = re.fullmatch(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})", host)
    if ip:
        if not all(int(x) <= 255 for x in ip.groups()):
            raise InvalidValue(msg)
    elif not _valid_domain(host) or "[" in parts.netloc:
        raise InvalidValue(msg)
    netloc = host + (f":{port}" if port is not None else "")
    out = f"{parts.scheme.lower()}://{netloc}{parts.path}"
    if parts.query:
        out += "?" + parts.query
    if parts.fragment:
        out += "#" + parts.fragment
    return out


# ---------------------------------------------------------------------------
# person


def _parse_person(raw, spec):
    msg = _l("Choose a team member.")
    ids = spec.get("person_ids")
    names = spec.get("person_names") or {}
    pid = None
    if isinstance(raw, bool):
        raise InvalidValue(msg)
    if isinstance(raw, int):
        pid = raw
    elif isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
        pid = int(raw)
    elif isinstance(raw, str):
        s = normalize_text(raw)
        if not s:
            return None
        t = s[1:].strip() if s.startswith("#") else s
        if re.fullmatch(r"[0-9]{1,12}", t):
            pid = int(t)
        else:
            key = s.casefold()
            found = sorted({str(k) for k, v in names.items() if v is not None and normalize_text(v).casefold() == key})
            if len(found) == 1 and found[0].isdigit():
                pid = int(found[0])
            elif len(found) > 1:
                raise InvalidValue(_l("More than one team member is called “%(name)s”; choose one from the list.",
                                      name=s), name=s)
            else:
                raise InvalidValue(_l("“%(name)s” is not a member of this team; choose a team member.", name=s[:100]),
                                   name=s[:100])
    else:
        raise InvalidValue(msg)
    if pid <= 0 or pid >= 2 ** 63:
        raise InvalidValue(msg)
    if ids is not None and pid not in ids and str(pid) not in ids:
        raise InvalidValue(_l("That person is not a member of this team; choose a team member."), id=pid)
    return pid


def _display_person(v, spec) -> str:
    names = spec.get("person_names") or {}
    name = names.get(v)
    if name is None:
        name = names.get(str(v))
    if name:
        return str(name)
    return f"#{v}"


# ---------------------------------------------------------------------------
# table


def _columns(spec):
    cols = []
    for c in spec.get("columns") or []:
        if isinstance(c, dict) and c.get("key"):
            cols.append(c)
    return cols


def _column_spec(col, spec):
    sub = {"options": list(col.get("options") or []),
           "retired_options": list(col.get("retired_options") or []),
           "allow_retired": spec.get("allow_retired", False),
           "person_ids": spec.get("person_ids"),
           "person_names": spec.get("person_names")}
    for k in ("max_length",):
        if col.get(k):
            sub[k] = col[k]
    return sub


def _col_label(col) -> str:
    return str(col.get("label") or col.get("key"))


def _parse_table(raw, spec):
    msg = _l("Enter the table as a list of rows.")
    if isinstance(raw, str):
        if not raw.strip():
            return None
        try:
            raw = json.loads(raw)
        except ValueError:
            raise InvalidValue(msg) from None
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, (list, tuple)):
        raise InvalidValue(msg)
    cols = _columns(spec)
    by_key = {str(c["key"]): c for c in cols}
    by_label = {}
    for c in cols:
        by_label.setdefault(_option_key(_col_label(c)), c)
    max_rows = int(spec.get("max_rows") or TABLE_MAX_ROWS)
    rows = []
    for n, row in enumerate(raw, start=1):
        if row is None:
            continue
        if not isinstance(row, dict):
            raise InvalidValue(_l("Row %(row)s: enter the row as column/value pairs.", row=n), row=n)
        out = {}
        for k, cell in row.items():
            col = by_key.get(str(k)) or by_label.get(_option_key(str(k)))
            if col is None:
                raise InvalidValue(_l("Row %(row)s: there is no column “%(column)s”.", row=n, column=str(k)[:100]),
                                   row=n, column=str(k)[:100])
            ctype = column_type(col)
            try:
                value = parse_value(ctype, cell, _column_spec(col, spec))
            except InvalidValue as e:
                raise InvalidValue(_l("Row %(row)s, %(column)s: %(message)s", row=n, column=_col_label(col),
                                      message=e.message), **{**e.params, "row": n, "column": str(col["key"])}) from None
            if value is not None:
                out[str(col["key"])] = value
        if out:
            rows.append({str(c["key"]): out[str(c["key"])] for c in cols if str(c["key"]) in out})
    if not rows:
        return None
    if len(rows) > max_rows:
        raise InvalidValue(_l("The table has too many rows; at most %(max)s rows are allowed.", max=max_rows),
                           max=max_rows)
    return rows


def _display_table(value, spec, sep="\n") -> str:
    cols = _columns(spec)
    lines = []
    for row in value or []:
        if not isinstance(row, dict):
            continue
        parts = []
        seen = set()
        for c in cols:
            k = str(c["key"])
            if k in row and not is_empty(row[k]):
                seen.add(k)
                ctype = column_type(c)
                parts.append(f"{_col_label(c)}: {display_value(ctype, row[k], _column_spec(c, spec))}")
        for k, v in row.items():
            if k not in seen and not is_empty(v):
                parts.append(f"{k}: {v}")
        if parts:
            lines.append("，".join(parts))
    return sep.join(lines)


# ---------------------------------------------------------------------------
# public API

def parse_value(field_type: str, raw, spec: dict | None = None):
    """Parse user/API/import input into the normalized stored value.

    Returns None for empty input (None, "", whitespace, [], {} ...). Raises InvalidValue.
    """
    if field_type not in FIELD_TYPES:
        raise ValueError(f"unknown field type {field_type!r}")
    if is_empty(raw):
        return None
    return FIELD_TYPES[field_type].parse(raw, spec or {})


def display_value(field_type: str, value, spec: dict | None = None) -> str:
    """Human display string of a stored value (Chinese-friendly), '' for None."""
    if is_empty(value):
        return ""
    ft = FIELD_TYPES.get(field_type)
    # A stored value of an unknown type (a type removed from the code) still shows as text.
    return ft.display(value, spec or {}) if ft else str(value)


def displays_as_stored(field_type: str) -> bool:
    """Whether a stored string of this type is its own display (text types): bulk exports skip the dispatch."""
    ft = FIELD_TYPES.get(field_type)
    return ft is not None and ft.display is _str_display


def column_type(col: dict) -> str:
    """The type a table column's cells are parsed as: types a table cannot hold fall back to text."""
    ctype = col.get("type") or "text"
    return ctype if ctype in FIELD_TYPES and FIELD_TYPES[ctype].column else "text"


def _plain_form(field_type, value, spec) -> str:
    """The re-parseable string form of a stored value, used for conversions."""
    if field_type in ("number", "money") and isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return _plain_number(value)
    if field_type == "person" and isinstance(value, int):
        return str(value)
    return display_value(field_type, value, spec)


def convert_value(from_type: str, to_type: str, value, spec: dict | None = None):
    """Convert a stored value for a template type change; raises InvalidValue when it does not convert.

    Same type -> value unchanged.  Otherwise the display/plain form of the old value is re-parsed by
    the new type; converting to text/textarea always works (within the length limit).
    """
    if from_type == to_type:
        return value
    if to_type not in FIELD_TYPES:
        raise ValueError(f"unknown field type {to_type!r}")
    spec = spec or {}
    if is_empty(value):
        return None
    if to_type in ("text", "textarea"):
        if from_type == "table" and to_type == "text":
            return parse_value(to_type, _display_table(value, spec, sep="；"), spec)
        return parse_value(to_type, display_value(from_type, value, spec), spec)
    if from_type == "table" or to_type == "table":
        raise InvalidValue(_l("A table cannot be converted to or from another field type."))
    if from_type == "multiselect" and isinstance(value, (list, tuple)):
        if to_type == "select":
            return parse_value("select", list(value), spec)
        if to_type == "multiselect":  # pragma: no cover - same type handled above
            return value
        return parse_value(to_type, "、".join(str(v) for v in value), spec)
    if to_type == "multiselect" and from_type == "select":
        return parse_value("multiselect", [value], spec)
    return parse_value(to_type, _plain_form(from_type, value, spec), spec)


# ---------------------------------------------------------------------------
# duplicate detection and search

_CN_SUFFIXES = sorted(
    ["股份有限公司", "有限责任公司", "有限責任公司", "集团有限公司", "集團有限公司", "集团股份有限公司", "股份公司",
     "有限公司", "集团", "集團", "公司", "工作室", "商行"],
    key=len, reverse=True,
)
_EN_SUFFIX_WORDS = {"co", "company", "ltd", "limited", "inc", "incorporated", "llc", "corp", "corporation",
                    "gmbh", "plc", "lp", "llp", "group"}


def _company_key_once(t: str) -> str:
    t = unicodedata.normalize("NFKC", t)
    t = unicodedata.normalize("NFKC", t.casefold())
    # punctuation/symbols become word breaks so English suffixes are recognised as words
    t = "".join(ch if unicodedata.category(ch)[0] in "LMN" else " " for ch in t)
    words = t.split()
    while len(words) > 1 and words[-1] in _EN_SUFFIX_WORDS:
        words.pop()
    t = unicodedata.normalize("NFKC", "".join(words))
    changed = True
    while changed:
        changed = False
        for suf in _CN_SUFFIXES:
            if t.endswith(suf) and len(t) > len(suf):
                t = t[: -len(suf)]
                changed = True
                break
    return t


def normalize_company_name(s) -> str:
    """Key for duplicate detection: NFKC, casefold, no spaces/punctuation, common suffixes removed."""
    if s is None:
        return ""
    t = _company_key_once(str(s))
    for _ in range(3):  # a few passes make the key a fixed point even for odd Unicode
        again = _company_key_once(t)
        if again == t:
            break
        t = again
    return t


def search_text(field_type, value, spec=None) -> str:
    """Lower-case text for a client's search blob (phones also as digits)."""
    spec = spec or {}
    if is_empty(value):
        return ""
    ft = FIELD_TYPES.get(field_type)
    if ft is None:
        text = str(value)
    else:
        text = ft.search(value, spec)
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def _search_shown(value, spec, field_type) -> str:
    return display_value(field_type, value, spec)


def _search_phone(value, spec) -> str:
    shown = display_value("phone", value, spec)
    digits = phone_digits(value)
    return f"{shown} {digits}" if digits and digits != shown else shown


def _search_numeric(field_type):
    def search(value, spec) -> str:
        shown = display_value(field_type, value, spec)
        plain = _plain_number(value)
        return f"{shown} {plain}" if plain != shown else shown
    return search


def _search_date(value, spec) -> str:
    shown = display_value("date", value, spec)
    if isinstance(value, str) and len(value) == 10:
        try:
            y, m, d = (int(x) for x in value.split("-"))
            return f"{shown} {y}年{m}月{d}日"
        except ValueError:
            pass
    return shown


def _search_multiselect(value, spec) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return display_value("multiselect", value, spec)


def _search_table(value, spec) -> str:
    if not isinstance(value, list):
        return display_value("table", value, spec)
    parts = []
    cols = {str(c["key"]): c for c in _columns(spec)}
    for row in value:
        if not isinstance(row, dict):
            continue
        for k, v in row.items():
            c = cols.get(str(k))
            parts.append(search_text(column_type(c or {}), v, _column_spec(c, spec) if c else {}))
    return " ".join(p for p in parts if p)


def _display_multiselect(value, spec) -> str:
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value)
    return str(value)


# ---------------------------------------------------------------------------
# the registry: everything the app knows about each field type, in one entry


@dataclass(frozen=True)
class Widget:
    """How a card form asks for a value of this type."""

    control: str = "input"  # input | textarea | select | checkboxes | yesno | person | table
    input_type: str = "text"
    # Chinese formats ("50万", "¥500,000", "2024年6月30日") need the full keyboard: only phones get a keypad.
    inputmode: str | None = None
    attrs: tuple[tuple[str, Any], ...] = (("autocomplete", "off"),)

    @property
    def attributes(self) -> dict:
        """Extra HTML attributes of the input (placeholder, autocomplete, ...) for xmlattr."""
        return dict(self.attrs)


@dataclass(frozen=True)
class FieldType:
    """One field type: how its values are read, shown, searched, indexed, asked for and documented."""

    name: str
    label: Any  # lazy-translated
    parse: Callable[[Any, dict], Any]  # non-empty raw input -> stored value, or InvalidValue
    display: Callable[[Any, dict], str]  # non-empty stored value -> text
    search: Callable[[Any, dict], str]  # non-empty stored value -> words for the search blob
    index: str | None  # the value index row: "num" (number column), "txt", "multi" (one txt row per item)
    sortable: bool  # the list sorts by it (needs an index)
    filterable: bool  # the list filters by its options
    has_options: bool
    widget: Widget
    schema: dict  # JSON Schema of the stored value, as the API returns it
    example: Any  # a stored value, for the API document and the registry's own test
    column: bool = True  # may be the type of a table column


def _shown(field_type):
    return lambda value, spec: _search_shown(value, spec, field_type)


def _str_display(value, spec) -> str:
    return str(value)


def _input(input_type="text", inputmode=None, **attrs) -> Widget:
    return Widget("input", input_type, inputmode, tuple(attrs.items()) + (("autocomplete", "off"),))


def _string(description: str, **extra) -> dict:
    return {"type": "string", "description": description, **extra}


FIELD_TYPES: dict[str, FieldType] = {ft.name: ft for ft in (
    FieldType("text", _l("Text"), lambda raw, spec: _parse_text(raw, spec, multiline=False), _str_display,
              _shown("text"), None, False, False, False, _input(),
              _string("One line of text."), "上海市浦东新区世纪大道100号"),
    FieldType("textarea", _l("Long text"), lambda raw, spec: _parse_text(raw, spec, multiline=True), _str_display,
              _shown("textarea"), None, False, False, False, Widget("textarea"),
              _string("Text with line breaks."), "每月初联系\n喜欢喝茶"),
    FieldType("number", _l("Number"), _parse_number, lambda v, spec: _display_number(v),
              _search_numeric("number"), "num", True, False, False, _input(),
              {"type": "number", "description": "Input also \"1,234\", \"1.5万\", \"2亿\"."}, 1.5),
    FieldType("money", _l("Amount (CNY)"), _parse_money, lambda v, spec: _display_money(v),
              _search_numeric("money"), "num", True, False, False,
              _input(placeholder=_l("e.g. 50万 or ¥500,000")),
              {"type": "number", "description": "Yuan, 2 decimals. Input also \"50万\", \"￥500,000\", \"50万元\"."},
              500000),
    FieldType("date", _l("Date"), _parse_date, lambda v, spec: _display_date(v), _search_date,
              "txt", True, False, False, _input(placeholder="2024-06-30 / 2024年6月30日"),
              _string("YYYY-MM-DD. Input also 2024年6月30日, 2024/6/30.", format="date"), "2024-06-30"),
    FieldType("select", _l("Choice"), _parse_select, _str_display, _shown("select"),
              "txt", False, True, True, Widget("select"),
              _string("One of the field's options."), "重点客户"),
    FieldType("multiselect", _l("Multiple choice"), _parse_multiselect, _display_multiselect, _search_multiselect,
              "multi", False, True, True, Widget("checkboxes"),
              {"type": "array", "items": {"type": "string"}, "description": "Some of the field's options."},
              ["重点客户", "老客户"]),
    FieldType("boolean", _l("Yes/no"), _parse_boolean, lambda v, spec: "是" if v else "否", _shown("boolean"),
              None, False, False, False, Widget("yesno"),
              {"type": "boolean", "description": "Input also 是/否, 有/无, yes/no."}, True),
    FieldType("phone", _l("Phone"), _parse_phone, _str_display, _search_phone,
              None, False, False, False, _input("tel", "tel", placeholder="138 0013 8000 / 010-56781234"),
              _string("13800138000, 010-56781234 or +1 415 555 1234."), "010-56781234"),
    FieldType("email", _l("Email"), _parse_email, _str_display, _shown("email"),
              None, False, False, False, _input(inputmode="email"),
              _string("An email address.", format="email"), "info@example.cn"),
    FieldType("url", _l("Web address"), _parse_url, _str_display, _shown("url"),
              None, False, False, False, _input(inputmode="url"),
              _string("An http(s) address.", format="uri"), "https://www.example.cn"),
    FieldType("person", _l("Team member"), _parse_person, _display_person, _shown("person"),
              None, False, False, False, Widget("person"),
              {"type": "integer", "minimum": 1, "description": "A team member's user id."}, 12),
    FieldType("table", _l("Table"), _parse_table,
              lambda v, spec: _display_table(v, spec) if isinstance(v, list) else str(v), _search_table,
              None, False, False, False, Widget("table"),
              {"type": "array", "items": {"type": "object"}, "description": "Rows: objects keyed by column key."},
              [{"kind": "办事处", "city": "上海"}], column=False),
)}
