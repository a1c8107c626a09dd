"""The quarterly review: compliance by grade, churn reasons, movements; the page, the xlsx and the PDF."""
from __future__ import annotations

import io
from datetime import date, datetime, timezone

from openpyxl import load_workbook
from sqlalchemy import inspect, update

from app.accounts.models import User
from app.clients.models import Client, ClientChange
from app.extensions import db
from app.followups import review as rv
from app.followups import services as fs
from app.tenancy import tenant_context
from tests import factories

IN_Q2 = datetime(2026, 5, 10, 4, tzinfo=timezone.utc)


def _cards(bundle):
    ids = {}
    for name, amount in (("甲A", "60万"), ("乙A", "70万"), ("丙B", "20万"), ("丁C", "1万")):
        ids[name] = inspect(factories.client(bundle, name, fields={"annual_amount": amount}, stage="成交")).identity[0]
    return ids


def test_review_numbers(tenant_a):
    ids = _cards(tenant_a)
    with tenant_context(tenant_a.id):
        owner = db.session.get(User, tenant_a.owner.id)
        db.session.execute(update(Client).values(created_at=IN_Q2), execution_options={"synchronize_session": False})
        c = {n: db.session.get(Client, i) for n, i in ids.items()}
        fs.add_followup(owner, c["甲A"], {"date": "2026-06-20", "method": "电话", "content": "回访", "satisfaction": "4"})
        fs.add_followup(owner, c["乙A"], {"date": "2026-04-02", "method": "电话", "content": "回访", "satisfaction": "2"})
        fs.add_followup(owner, c["丙B"], {"date": "2026-05-02", "method": "微信", "content": "问候"})
        fs.mark_churned(owner, c["丁C"], "价格")
        db.session.execute(update(ClientChange).values(at=IN_Q2), execution_options={"synchronize_session": False})
        db.session.commit()
        r = rv.build_review(owner, "2026Q2")
        assert (r.start, r.end) == (date(2026, 4, 1), date(2026, 6, 30))
        by_grade = {x["grade"]: x for x in r.compliance}
        # A: 30 days before 30 June; 甲A called 20 June (in time), 乙A on 2 April (late).
        assert (by_grade["A"]["clients"], by_grade["A"]["on_time"], by_grade["A"]["share"]) == (2, 1, 0.5)
        assert (by_grade["B"]["clients"], by_grade["B"]["on_time"]) == (1, 1)
        assert by_grade["C"]["clients"] == 0  # the only C client was lost
        assert r.new_clients == 4 and r.followups == 3 and r.satisfaction == 3.0
        assert r.churn == [{"reason": "价格", "count": 1}]
        assert {"from": "成交", "to": "流失", "count": 1} in r.stages
        assert r.repeat_rate == 0.0
        assert rv.build_review(owner, "2026Q1").followups == 0


def test_review_page_xlsx_and_pdf(tenant_a, login):
    _cards(tenant_a)
    b = login(tenant_a.owner)
    page = b.get("/review?period=2026Q2")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="chart-compliance"' in text and "vendor/echarts.min.js" in text
    assert b.get("/review?period=2026Q9").status_code == 422
    x = b.get("/review.xlsx?period=2026Q2")
    assert x.status_code == 200
    wb = load_workbook(io.BytesIO(x.data))
    assert len(wb.sheetnames) == 6
    rows = list(wb.worksheets[1].iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == ["A", "B", "C"]
    pdf = b.get("/review.pdf?period=2026Q2")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_churn_needs_a_reason(tenant_a, login, hx):
    card = inspect(factories.client(tenant_a, "华光")).identity[0]
    b = login(tenant_a.owner)
    r = b.post(f"/clients/{card}/churn", data={"churn_reason": ""}, headers=hx)
    assert r.status_code == 422 and 'id="fu-err-churn_reason"' in r.get_data(as_text=True)
    r = b.post(f"/clients/{card}/churn", data={"churn_reason": "服务不满意"}, headers=hx)
    assert r.status_code == 200
    with tenant_context(tenant_a.id):
        assert db.session.get(Client, card).stage == "流失"
