"""Grading rules (客户等级): a tenant's ordered grades with lower bounds on one number or money field, and the
contact cadence per grade. Pure functions on values: app.clients.derived calls `apply_grade` on every save, so
create, update, import and API writes all grade the card. Nothing here imports the clients' services."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.tenancy import current_tenant

DEFAULT_RULES = {
    "field": "annual_amount",
    "grades": [{"name": "A", "min": 500000}, {"name": "B", "min": 100000}, {"name": "C", "min": None}],
    "cadence_days": {"A": 30, "B": 90, "C": 180},
    "first_visit_days": 5,
}
MAX_GRADES = 6


def rules_of(tenant) -> dict:
    """The tenant's grading rules, defaults filled in."""
    saved = (tenant.settings or {}).get("grading") or {}
    rules = {**DEFAULT_RULES, **saved}
    rules["cadence_days"] = {g["name"]: int((rules.get("cadence_days") or {}).get(g["name"]) or 90)
                             for g in rules["grades"]}
    return rules


def current_rules() -> dict:
    return rules_of(current_tenant())


def grade_for(rules: dict, values: dict) -> str | None:
    """The first grade whose lower bound the field's value reaches; no value (or not a number) gives no grade."""
    value = (values or {}).get(rules["field"])
    if isinstance(value, bool) or not isinstance(value, (int, float)):
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


def parse_rules(data: dict, fields: dict) -> tuple[dict, dict]:
    """Validate submitted rules ({"field", "grades": [{"name", "min"}], "cadence_days", "first_visit_days"}):
    (rules, errors). `fields` maps field key -> FieldDef of the template."""
    errors: dict = {}
    key = data.get("field")
    fd = fields.get(key) if isinstance(key, str) else None
    if fd is None or fd.archived or fd.type not in ("number", "money"):
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
    return {"field": key, "grades": clean, "cadence_days": clean_cadence, "first_visit_days": first}, {}
