"""The quarterly review (季度复盘): cadence compliance by grade, new clients, grades and their movements, stage
conversion, churn and its reasons, satisfaction and repeat cooperation, for a period and (optionally) one owner.
The same numbers feed the page (ECharts), the xlsx and the PDF (server-drawn SVG). No field values are read."""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import Text, and_, case, cast, func, or_, select

from app.accounts.models import User
from app.clients.access import visible_clients
from app.clients.models import Client, ClientChange
from app.extensions import db
from app.followups.grading import rules_of
from app.followups.models import FollowUp
from app.followups.services import CHURN_STAGE, local_today
from app.tenancy import current_tenant

REPEAT_STAGE, DEAL_STAGE = "长期合作", "成交"


class PeriodInvalid(ValueError):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def parse_period(raw: str | None, today: date) -> tuple[str, date, date]:
    """"2026Q3" (default: the current quarter) -> (label, first day, last day)."""
    raw = (raw or "").strip().upper()
    if not raw:
        raw = f"{today.year}Q{(today.month - 1) // 3 + 1}"
    m = re.fullmatch(r"(\d{4})Q([1-4])", raw)
    if not m or not 2000 <= int(m.group(1)) <= 2100:
        raise PeriodInvalid(_l("Choose a quarter such as 2026Q3."))
    year, q = int(m.group(1)), int(m.group(2))
    start = date(year, 3 * q - 2, 1)
    end = (date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)) - timedelta(days=1)
    return raw, start, end


def quarters(today: date, n: int = 8) -> list[str]:
    """The last n quarters, newest first."""
    year, q = today.year, (today.month - 1) // 3 + 1
    out = []
    for _ in range(n):
        out.append(f"{year}Q{q}")
        year, q = (year - 1, 4) if q == 1 else (year, q - 1)
    return out


@dataclass
class Review:
    label: str
    start: date
    end: date
    owner: User | None
    grades: list[str]
    compliance: list[dict] = field(default_factory=list)   # {grade, clients, on_time, share}
    distribution: list[dict] = field(default_factory=list)  # {grade, count}
    movements: list[dict] = field(default_factory=list)     # {from, to, count}
    stages: list[dict] = field(default_factory=list)        # {from, to, count}
    churn: list[dict] = field(default_factory=list)         # {reason, count}
    new_clients: int = 0
    followups: int = 0
    satisfaction: float | None = None
    repeat_rate: float | None = None
    active_clients: int = 0


def build_review(user: User, period: str | None = None, owner_id: int | None = None) -> Review:
    """The review of a quarter for the clients this user may see (of one owner when given)."""
    tenant = current_tenant()
    today = local_today(tenant)
    label, start, end = parse_period(period, today)
    zone = ZoneInfo(tenant.timezone or "Asia/Shanghai")
    t0 = datetime.combine(start, time.min, zone)
    t1 = datetime.combine(end + timedelta(days=1), time.min, zone)
    rules = rules_of(tenant)
    names = [g["name"] for g in rules["grades"]]
    owner = db.session.get(User, owner_id) if owner_id else None
    base = visible_clients(user).where(Client.archived_at.is_(None))
    if owner_id:
        base = base.where(Client.owner_id == owner_id)
    ids = base.with_only_columns(Client.id).order_by(None)
    review = Review(label, start, end, owner, names)

    # Counts by grade and stage in one aggregate query: no card row reaches Python.
    created_in = and_(Client.created_at >= t0, Client.created_at < t1)
    by_grade_stage = db.session.execute(
        base.with_only_columns(Client.grade, Client.stage, func.count(Client.id),
                               func.count(Client.id).filter(created_in),
                               func.count(Client.id).filter(Client.created_at < t1))
        .group_by(Client.grade, Client.stage).order_by(None)).all()
    dist: dict = {}
    members: dict = {}  # grade -> active cards that existed in the period
    stage_count: dict = {}
    for grade, stage, n, new, existed in by_grade_stage:
        dist[grade] = dist.get(grade, 0) + n
        stage_count[stage] = stage_count.get(stage, 0) + n
        review.new_clients += new
        if stage != CHURN_STAGE:
            review.active_clients += n
            members[grade] = members.get(grade, 0) + existed
    review.distribution = [{"grade": g, "count": dist.get(g, 0)} for g in names] + \
        ([{"grade": None, "count": dist[None]}] if dist.get(None) else [])

    # Cadence compliance at the end of the period: contacted within the grade's cadence before it (one probe of
    # the follow-up index per card, counted by the database).
    window = case({g: end - timedelta(days=rules["cadence_days"][g]) for g in names}, value=Client.grade,
                  else_=end)
    contacted = (select(FollowUp.id).where(FollowUp.client_id == Client.id, FollowUp.date <= end,
                                           FollowUp.date > window).exists())
    on_time = dict(db.session.execute(
        base.with_only_columns(Client.grade, func.count(Client.id))
        .where(Client.stage != CHURN_STAGE, Client.created_at < t1, Client.grade.in_(names), contacted)
        .group_by(Client.grade).order_by(None)).all())
    for g in names:
        n = members.get(g, 0)
        review.compliance.append({"grade": g, "clients": n, "on_time": on_time.get(g, 0),
                                  "share": round(on_time.get(g, 0) / n, 4) if n else None})

    fu = db.session.execute(select(func.count(FollowUp.id), func.avg(FollowUp.satisfaction))
                            .where(FollowUp.client_id.in_(ids), FollowUp.date >= start, FollowUp.date <= end)).one()
    review.followups = fu[0] or 0
    review.satisfaction = round(float(fu[1]), 2) if fu[1] is not None else None

    moves: dict = {}
    stages: dict = {}
    churn: dict = {}
    as_text = cast(ClientChange.changes, Text)
    for action, changes, note in db.session.execute(
            select(ClientChange.action, ClientChange.changes, ClientChange.note)
            .where(ClientChange.at >= t0, ClientChange.at < t1, ClientChange.client_id.in_(ids),
                   or_(as_text.contains('"@grade"'), as_text.contains('"@stage"')))):
        grade = (changes or {}).get("@grade")
        if grade and grade.get("from") is not None:
            key = (grade.get("from"), grade.get("to"))
            moves[key] = moves.get(key, 0) + 1
        stage = (changes or {}).get("@stage")
        if stage and stage.get("from") is not None and stage.get("from") != stage.get("to"):
            key = (stage["from"], stage["to"])
            stages[key] = stages.get(key, 0) + 1
            if stage["to"] == CHURN_STAGE:
                reason = (note or "").strip() or str(_l("No reason given"))
                churn[reason] = churn.get(reason, 0) + 1
    review.movements = [{"from": a, "to": b, "count": n} for (a, b), n in sorted(moves.items(), key=lambda t: -t[1])]
    review.stages = [{"from": a, "to": b, "count": n} for (a, b), n in sorted(stages.items(), key=lambda t: -t[1])]
    review.churn = [{"reason": r, "count": n} for r, n in sorted(churn.items(), key=lambda t: -t[1])]
    deal = stage_count.get(DEAL_STAGE, 0) + stage_count.get(REPEAT_STAGE, 0)
    review.repeat_rate = round(stage_count.get(REPEAT_STAGE, 0) / deal, 4) if deal else None
    return review


def chart_data(review: Review) -> dict:
    """What the page's ECharts draw."""
    return {
        "compliance": {"grades": [c["grade"] for c in review.compliance],
                       "share": [round((c["share"] or 0) * 100, 1) for c in review.compliance]},
        "distribution": [{"name": d["grade"] or str(_l("no grade")), "value": d["count"]} for d in review.distribution
                         if d["count"]],
        "stages": {"labels": [f'{s["from"]}→{s["to"]}' for s in review.stages[:10]],
                   "counts": [s["count"] for s in review.stages[:10]]},
        "churn": [{"name": c["reason"], "value": c["count"]} for c in review.churn],
    }


def svg_bars(items: list[tuple[str, float]], *, unit: str = "", width: int = 480) -> str:
    """A horizontal bar chart as inline SVG (for the PDF, where no script runs)."""
    from markupsafe import escape

    height = 26 * len(items) + 10
    top = max([v for _k, v in items] + [1])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for i, (label, value) in enumerate(items):
        y = 8 + 26 * i
        w = int((width - 190) * (value / top)) if top else 0
        parts.append(f'<text x="0" y="{y + 14}" font-size="12">{escape(label)}</text>'
                     f'<rect x="120" y="{y}" width="{max(w, 1)}" height="18" fill="#3b6fd8"/>'
                     f'<text x="{126 + w}" y="{y + 14}" font-size="12">{value:g}{escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def pdf_charts(review: Review) -> dict:
    """The review's charts as inline SVG for the PDF."""
    return {
        "compliance": svg_bars([(f'{c["grade"]} ({c["on_time"]}/{c["clients"]})', round((c["share"] or 0) * 100, 1))
                                for c in review.compliance], unit="%"),
        "distribution": svg_bars([(d["grade"] or str(_l("no grade")), d["count"]) for d in review.distribution]),
        "stages": svg_bars([(f'{s["from"]}→{s["to"]}', s["count"]) for s in review.stages[:10]]),
        "churn": svg_bars([(c["reason"], c["count"]) for c in review.churn]),
    }


def review_xlsx(review: Review) -> bytes:
    """The review as an xlsx workbook: one sheet per part."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = str(_l("Summary"))
    bold = Font(bold=True)
    ws.append([str(_l("Quarterly review")), review.label])
    ws.append([str(_l("Period")), f"{review.start.isoformat()} – {review.end.isoformat()}"])
    ws.append([str(_l("Owner")), review.owner.display_name if review.owner else str(_l("Everyone"))])
    ws.append([str(_l("Active clients")), review.active_clients])
    ws.append([str(_l("New clients")), review.new_clients])
    ws.append([str(_l("Follow-ups")), review.followups])
    ws.append([str(_l("Average satisfaction")), review.satisfaction])
    ws.append([str(_l("Repeat-cooperation rate")), review.repeat_rate])
    ws["A1"].font = bold

    def sheet(title, header, rows):
        s = wb.create_sheet(str(title)[:31])
        s.append([str(h) for h in header])
        for cell in s[1]:
            cell.font = bold
        for row in rows:
            s.append(row)

    sheet(_l("Cadence compliance"), [_l("Grade"), _l("Clients"), _l("Contacted in time"), _l("Share")],
          [[c["grade"], c["clients"], c["on_time"], c["share"]] for c in review.compliance])
    sheet(_l("Grades"), [_l("Grade"), _l("Clients")],
          [[d["grade"] or str(_l("no grade")), d["count"]] for d in review.distribution])
    sheet(_l("Grade changes"), [_l("From"), _l("To"), _l("Clients")],
          [[m["from"], m["to"], m["count"]] for m in review.movements])
    sheet(_l("Stage changes"), [_l("From"), _l("To"), _l("Clients")],
          [[s["from"], s["to"], s["count"]] for s in review.stages])
    sheet(_l("Churn reasons"), [_l("Reason"), _l("Clients")], [[c["reason"], c["count"]] for c in review.churn])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def review_pdf(review: Review, html: str) -> bytes:
    """The review as a PDF, rendered by WeasyPrint from its own print template."""
    from weasyprint import HTML

    return HTML(string=html).write_pdf()
