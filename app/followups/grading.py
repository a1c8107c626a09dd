"""Grading rules (客户等级): a tenant's ordered grades with lower bounds on one number or money field (mode
"amount"), or on a weighted score of several fields (mode "points": a number or money field counts its value times
its weight, a choice field the points given to its option times the weight), and the contact cadence per grade. Pure functions on values: app.clients.derived calls `apply_grade` on every save, so
create, update, import and API writes all grade the card. Nothing here imports the clients' services."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.tenancy import current_tenant

DEFAULT_RULES = {
    "mode": "amount",
    "field": "annual_amount",
    "factors": [],
    "grades": [{"name": "A", "min": 500000}, {"name": "B", "min": 100000}, {"name": "C", "min": None}],
    "cadence_days": {"A": 30, "B": 90, "C": 180},
    "first_visit_days": 5,
}
MAX_GRADES = 6
MAX_FACTORS = 6
MODES = ("amount", "points")
POINT_TYPES = ("number", "money", "select")


def rules_of(tenant) -> dict:
    """The tenant's grading rules, defaults filled in."""
    saved = (tenant.settings or {}).get("grading") or {}
    rules = {**DEFAULT_RULES, **saved}
    rules["cadence_days"] = {g["name"]: int((rules.get("cadence_days") or {}).get(g["name"]) or 90)
                             for g in rules["grades"]}
    return rules


def current_rules() -> dict:
    return rules_of(current_tenant())


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def score_of(rules: dict, values: dict) -> float | None:
    """The weighted score of a card in points mode; None when none of the scored fields has a value."""
    total, scored = 0.0, False
    for factor in rules.get("factors") or []:
        value = (values or {}).get(factor["field"])
        points = factor.get("points")
        if points is not None:
            if isinstance(value, str) and value:
                total += float(points.get(value, 0)) * factor["weight"]
                scored = True
        elif _number(value):
            total += value * factor["weight"]
            scored = True
    return round(total, 4) if scored else None


def grade_for(rules: dict, values: dict) -> str | None:
    """The first grade whose lower bound the field's value (or in points mode the score) reaches; no value (or not
    a number) gives no grade."""
    if rules.get("mode") == "points":
        value = score_of(rules, values)
    else:
        value = (values or {}).get(rules["field"])
    if not _number(value):
        return None
    for grade in rules["grades"]:
        if grade.get("min") is None or value >= grade["min"]:
            return grade["name"]
    return None


def apply_grade(client, rules: dict | None = None) -> None:
    """Set the card's rule grade before its flush; a manual override is sticky until cleared."""
    if client.grade_source == "manual":
        return
    grade = grade_for(rules or current_rules(), client.values or {})
    client.grade, client.grade_source = grade, ("rule" if grade else None)


def parse_factors(raw, fields: dict) -> tuple[list, str | None]:
    """Points mode: [{"field", "weight", "points"?}] -> (clean factors, error). A choice field needs the points of
    its options ({"option": points}); options left out score 0."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_FACTORS:
        return [], _l("Score between 1 and %(n)d fields.", n=MAX_FACTORS)
    clean, seen = [], set()
    for factor in raw:
        key = factor.get("field") if isinstance(factor, dict) else None
        fd = fields.get(key) if isinstance(key, str) else None
        if fd is None or fd.archived or fd.type not in POINT_TYPES:
            return [], _l("Score number, money or choice fields of the card.")
        if fd.sensitive:
            return [], _l("A sensitive field cannot grade clients: the grade would reveal it.")
        if key in seen:
            return [], _l("Score each field once.")
        seen.add(key)
        weight = factor.get("weight", 1)
        if not _number(weight) or not -1e9 < weight < 1e9:
            return [], _l("Enter each weight as a number.")
        item = {"field": key, "weight": weight}
        if fd.type == "select":
            points = factor.get("points")
            if not isinstance(points, dict) or not points or not all(_number(v) for v in points.values()):
                return [], _l("Give points to the options of %(label)s, such as 爽快=30, 一般=20.", label=fd.t())
            unknown = [o for o in points if o not in (fd.options or [])]
            if unknown:
                return [], _l("%(label)s has no option %(option)s.", label=fd.t(), option=unknown[0])
            item["points"] = dict(points)
        clean.append(item)
    return clean, None


def parse_rules(data: dict, fields: dict) -> tuple[dict, dict]:
    """Validate submitted rules ({"mode"?, "field", "factors"?, "grades": [{"name", "min"}], "cadence_days",
    "first_visit_days"}): (rules, errors). `fields` maps field key -> FieldDef of the template."""
    errors: dict = {}
    mode = data.get("mode") or "amount"
    factors: list = []
    if mode not in MODES:
        errors["mode"] = _l("Grade by one field or by points.")
    key = data.get("field")
    fd = fields.get(key) if isinstance(key, str) else None
    if mode == "points":
        factors, error = parse_factors(data.get("factors"), fields)
        if error:
            errors["factors"] = error
        if fd is None or fd.archived or fd.type not in ("number", "money") or fd.sensitive:
            key = DEFAULT_RULES["field"]  # kept for a later switch back to one field
    elif fd is None or fd.archived or fd.type not in ("number", "money"):
        errors["field"] = _l("Choose a number or money field of the card.")
    elif fd.sensitive:
        errors["field"] = _l("A sensitive field cannot grade clients: the grade would reveal it.")
    grades = data.get("grades")
    clean = []
    if not isinstance(grades, list) or not 1 <= len(grades) <= MAX_GRADES:
        errors["grades"] = _l("Enter between 1 and %(n)d grades.", n=MAX_GRADES)
    else:
        names = set()
        previous = None
        for i, g in enumerate(grades):
            name = str((g or {}).get("name") or "").strip() if isinstance(g, dict) else ""
            low = g.get("min") if isinstance(g, dict) else None
            if not name or len(name) > 4:
                errors["grades"] = _l("Every grade needs a name of at most 4 characters.")
                break
            if name in names:
                errors["grades"] = _l("Grade names must differ.")
                break
            names.add(name)
            last = i == len(grades) - 1
            if low is not None and (isinstance(low, bool) or not isinstance(low, (int, float))):
                errors["grades"] = _l("Enter each lower bound as a number.")
                break
            if low is None and not last:
                errors["grades"] = _l("Only the last grade may have no lower bound.")
                break
            if low is not None and previous is not None and low >= previous:
                errors["grades"] = _l("Lower bounds must go down from the first grade to the last.")
                break
            if low is not None:
                previous = low
            clean.append({"name": name, "min": low})
    cadence = data.get("cadence_days") or {}
    clean_cadence = {}
    if not isinstance(cadence, dict):
        errors["cadence_days"] = _l("Enter the days between contacts for each grade.")
    else:
        for g in clean:
            days = cadence.get(g["name"], DEFAULT_RULES["cadence_days"].get(g["name"], 90))
            if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
                errors["cadence_days"] = _l("Days between contacts are a whole number from 1 to 3650.")
                break
            clean_cadence[g["name"]] = days
        if set(cadence) - {g["name"] for g in clean} and "cadence_days" not in errors:
            errors["cadence_days"] = _l("Cadence given for a grade that does not exist.")
    first = data.get("first_visit_days", DEFAULT_RULES["first_visit_days"])
    if isinstance(first, bool) or not isinstance(first, int) or not 0 <= first <= 365:
        errors["first_visit_days"] = _l("Days after creation are a whole number from 0 to 365.")
    if errors:
        return {}, errors
    return {"mode": mode, "field": key, "factors": factors, "grades": clean, "cadence_days": clean_cadence,
            "first_visit_days": first}, {}
