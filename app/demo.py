"""Demo and benchmark data: realistic Chinese client cards for the default template (key_account_company).

`load_demo` builds a small, hand-sized demo company through the normal services (numbers, history, match keys).
`seed_bench` builds benchmark volumes fast with bulk INSERTs, computing every derived column (number,
search_text, completeness, match keys) with the same service helpers the app uses. Both are deterministic.
"""
from __future__ import annotations

import random
import time
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from app.accounts.models import Tenant, User
from app.card_templates.models import CardTemplate
from app.card_templates.services import fields_by_key, install_builtin, load_template
from app.clients.models import (Client, ClientChange, ClientCoOwner, ClientFieldValue, ClientMatchKey,
                                ClientNumberCounter, ClientSearchGrams)
from app.clients.derived import (build_search_text, completeness, field_value_rows, match_keys, name_sort_key,
                                 search_grams)
from app.extensions import db
from app.tenancy import tenant_context

DEMO_COMPANY = "华光贸易(演示)"
TEMPLATE_KEY = "key_account_company"
BENCH_PASSWORD = "bench-pass-2026"
BATCH = 1000

CITIES = [("上海", "021", "浦东新区"), ("北京", "010", "朝阳区"), ("广州", "020", "天河区"), ("深圳", "0755", "南山区"),
          ("杭州", "0571", "西湖区"), ("南京", "025", "鼓楼区"), ("苏州", "0512", "工业园区"), ("成都", "028", "高新区"),
          ("武汉", "027", "江汉区"), ("重庆", "023", "渝中区"), ("天津", "022", "和平区"), ("西安", "029", "雁塔区"),
          ("宁波", "0574", "鄞州区"), ("青岛", "0532", "市南区"), ("厦门", "0592", "思明区"), ("长沙", "0731", "岳麓区"),
          ("郑州", "0371", "金水区"), ("合肥", "0551", "蜀山区"), ("佛山", "0757", "禅城区"), ("东莞", "0769", "南城区")]
WORDS = ["华光", "东方", "恒信", "鼎盛", "永泰", "金桥", "新锐", "宏达", "瑞丰", "中联", "安信", "德润", "汇通", "天成",
         "博远", "嘉禾", "启航", "明珠", "正大", "长江", "海纳", "凯越", "万通", "鸿运", "锦程", "盛世", "佳美", "信诚",
         "银河", "兴业", "君泰", "同创", "融汇", "远景", "和谐", "龙腾", "翔宇", "卓越", "顺达", "康宁"]
TRADES = {"贸易/进出口": "国际贸易", "批发/零售": "商贸", "快消品": "食品", "服装": "服饰", "家具/玩具": "家居",
          "办公用品": "办公设备", "机械/设备": "机械", "汽配": "汽车零部件", "酒店/餐饮": "餐饮管理",
          "美容/保健": "健康科技", "娱乐/休闲": "文化传媒", "制药/医疗": "医药"}
SUFFIXES = ["有限公司", "有限公司", "有限责任公司", "股份有限公司", "集团有限公司"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英",
         "霞", "平", "刚", "桂英", "建华", "志强", "晓东", "海燕", "文杰", "子涵", "思远", "雨欣", "国庆", "红梅"]
STREETS = ["人民路", "解放路", "中山路", "建设路", "长江路", "新华路", "和平路", "世纪大道", "科技园路", "滨江大道"]
TAGS = ["重点", "华东", "华南", "华北", "西南", "老客户", "新客户", "展会", "转介绍", "需回访", "VIP", "招投标"]
PHRASES = {
    "main_business": ["主营{trade}产品的研发、生产与销售，兼营进出口业务。", "{trade}渠道分销，覆盖{city}及周边城市。"],
    "current_needs": ["希望年内更换供应商，重点关注交期和售后。", "计划扩大采购量，要求阶梯价格。", "需要定制化方案，预算待定。"],
    "pain_points": ["现有供应商交货不稳定，旺季常断货。", "价格偏高，账期太短。", "售后响应慢，技术支持不到位。"],
    "decision_process": ["采购部提需求，总经理最终拍板。", "技术部评估后报董事会审批。"],
    "decision_makers": ["总经理、采购经理、技术总监", "董事长、财务总监"],
    "obstacles": ["预算审批周期长。", "老供应商关系深。", "对我方品牌认知不足。"],
    "next_step": ["下月安排到厂参观。", "等待样品测试结果。", "年底前签框架协议。"],
    "main_competitors": ["本地两家同类供应商，价格战激烈。", "一家外资品牌，质量好但价格高。"],
    "relation_with_us": ["合作三年，关系稳定，付款及时。", "首次合作，仍在试单阶段。", "曾中断合作，正在恢复。"],
    "sales_performance": ["去年销售额同比增长15%。", "近两年业绩平稳。"],
    "trade_terms": ["月结30天，含税含运费。", "预付30%，货到付清。"],
    "credit_summary": ["资金充足，信用良好。", "偶有拖欠，需关注回款。"],
    "qualifications": ["ISO9001质量体系认证，高新技术企业。", "一般纳税人资格，进出口经营权。"],
    "main_products": ["{trade}系列产品", "{trade}配套产品及服务"],
    "buys_from_us": ["标准件、包装材料", "核心部件及配套服务"],
    "strategy_now": ["稳固华东市场，开拓线上渠道。"], "plan_1y": ["新增两个区域办事处。"],
    "plan_3y": ["年营收突破一亿元。"], "plan_long": ["成为区域龙头企业。"],
    "sales_capacity": ["销售团队约30人，渠道覆盖三省。"], "growth_potential": ["增长潜力较大。"],
    "business_philosophy": ["重质量、讲信誉。"], "business_features": ["以中高端客户为主。"],
    "competition_status": ["竞争激烈，以价格和服务取胜。"], "client_countermeasures": ["加大研发投入，提升服务。"],
    "staff_quality": ["管理层经验丰富，销售人员流动较大。"], "current_problems": ["回款周期偏长。"],
    "advantages": ["交期稳定，技术支持及时。"], "future_measures": ["季度拜访，年度框架协议。"],
    "image_reputation": ["在业内口碑良好。"], "credit_issues": ["无。", "2023年有一笔货款逾期两个月。"],
    "pic_career": ["曾任某外企区域经理。"], "pic_background": ["本地人，行业经验十余年。"],
    "pic_strengths": ["决策果断，重信用。"], "pic_weaknesses": ["对价格敏感。"],
    "pic_recent_decisions": ["更换了物流供应商。"], "pic_influence": ["公司二把手，话语权大。"],
    "pic_responsibilities": ["分管采购和销售。"], "purchase_reasons": ["降低成本，提高效率。"],
}


def _person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _mobile(rng: random.Random) -> str:
    return rng.choice(["138", "139", "137", "150", "186", "188", "135", "159", "177", "199"]) + f"{rng.randrange(10 ** 8):08d}"


def _landline(rng: random.Random, area: str) -> str:
    return f"{area}-{rng.randrange(2 * 10 ** 7, 10 ** 8)}"


def _day(rng: random.Random, start_year: int, end_year: int) -> str:
    start = date(start_year, 1, 1).toordinal()
    return date.fromordinal(rng.randrange(start, date(end_year, 12, 28).toordinal())).isoformat()


def company_name(rng: random.Random, serial: int | None = None) -> tuple[str, str, str, tuple]:
    """(name, industry, trade word, city) of a plausible company; `serial` keeps benchmark names distinct."""
    city = rng.choice(CITIES)
    industry = rng.choice(list(TRADES))
    word = rng.choice(WORDS) + (rng.choice(WORDS) if serial is not None else "")
    tail = f"{serial}" if serial is not None and serial >= 0 else ""
    return f"{city[0]}{word}{tail}{TRADES[industry]}{rng.choice(SUFFIXES)}", industry, TRADES[industry], city


def field_values(rng: random.Random, template: CardTemplate, *, name: str, industry: str, trade: str, city: tuple,
                 people: list[int], fill: float = 0.6, sensitive: bool = False) -> dict:
    """Normalized values (as the value library stores them) for about `fill` of the card's fields."""
    values: dict = {}
    contact = _person_name(rng)
    for fd in fields_by_key(template, include_archived=False).values():
        if fd.sensitive and not sensitive:
            continue
        if not fd.required and rng.random() > fill:
            continue
        v = _value_for(rng, fd, name=name, trade=trade, city=city, contact=contact, people=people)
        if v not in (None, "", []):
            values[fd.key] = v
    values["industry"] = industry
    return believable(rng, values)


def believable(rng: random.Random, values: dict) -> dict:
    """Make the drawn values agree with each other, as a person reading the card expects: staff counts add up,
    dates come in order (founded, then the legal representative, then trading with us; decisions ahead), the
    regional market share is at least the national one."""
    staff = ("staff_total", "staff_male", "staff_female", "staff_senior_titles", "staff_mid_titles")
    if any(k in values for k in staff):
        total = rng.choice([12, 25, 38, 60, 85, 120, 180, 260, 420, 650])
        male = round(total * rng.uniform(0.4, 0.7))
        senior = rng.randint(0, max(1, total // 12))
        values.update(staff_total=total, staff_male=male, staff_female=total - male, staff_senior_titles=senior,
                      staff_mid_titles=rng.randint(senior, max(senior, total // 4)))
    today = date.today()
    founded = date(rng.randint(1995, 2018), rng.randint(1, 12), rng.randint(1, 28))
    if "founded_on" in values:
        values["founded_on"] = founded.isoformat()
    if "legal_rep_since" in values:
        values["legal_rep_since"] = _between(rng, founded, today).isoformat()
    if "first_deal_date" in values:
        values["first_deal_date"] = _between(rng, max(founded, date(2015, 1, 1)), today).isoformat()
    if "expected_decision_date" in values:
        values["expected_decision_date"] = (today + timedelta(days=rng.randint(20, 240))).isoformat()
    if "market_share_national" in values or "market_share_regional" in values:
        national = round(rng.uniform(0.2, 5), 1)
        values.update(market_share_national=national, market_share_regional=round(national * rng.uniform(2, 6), 1))
    if "credit_limit" in values and "annual_amount" in values:
        values["credit_limit"] = min(values["credit_limit"], values["annual_amount"] // 2 // 10000 * 10000 or 50000)
    return values


def _between(rng: random.Random, start: date, end: date) -> date:
    return date.fromordinal(rng.randint(start.toordinal(), max(start.toordinal(), end.toordinal())))


def _value_for(rng, fd, *, name, trade, city, contact, people):
    key, kind = fd.key, fd.type
    if kind == "select":
        return rng.choice(fd.options) if fd.options else None
    if kind == "multiselect":
        return sorted(rng.sample(fd.options, min(len(fd.options), rng.randint(1, 2)))) if fd.options else None
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "person":
        return rng.choice(people) if people else None
    if kind == "phone":
        return _mobile(rng) if "mobile" in key or key.endswith("rep_phone") else _landline(rng, city[1])
    if kind == "email":
        return f"{rng.choice(['info', 'sales', 'office', 'hr', 'service'])}{rng.randrange(10**7)}@{rng.choice(['163.com', 'qq.com', 'sina.com', 'example.cn'])}"
    if kind == "url":
        return f"https://www.example-{rng.randrange(10 ** 6)}.cn"
    if kind == "date":
        return _day(rng, 1960, 1995) if "birthday" in key else _day(rng, 1995, 2026) if key == "founded_on" else _day(rng, 2015, 2026)
    if kind == "money":
        wan = rng.choice([5, 8, 12, 20, 35, 50, 80, 120, 200, 500, 1000])
        return wan * 10000
    if kind == "number":
        if "share" in key:
            return round(rng.uniform(0.5, 30), 1)
        return rng.randint(5, 800)
    if kind == "table":
        rows = []
        for _ in range(rng.randint(1, 3)):
            row = {}
            for col in fd.columns:
                ck, ct = col["key"], col["type"]
                if ct == "select":
                    row[ck] = rng.choice(col["options"]) if col.get("options") else None
                elif ct == "phone":
                    row[ck] = _mobile(rng)
                elif ct == "date":
                    row[ck] = _day(rng, 1960, 2000)
                elif ct == "email":
                    row[ck] = f"contact{rng.randrange(10**8)}@example.cn"
                elif ck in ("name", "company"):
                    row[ck] = _person_name(rng) if ck == "name" else name
                elif ck in ("city", "birthplace", "native_place"):
                    row[ck] = rng.choice(CITIES)[0]
                elif ck == "position":
                    row[ck] = rng.choice(["总经理", "采购经理", "财务总监", "技术主管", "销售总监"])
                elif ck == "department":
                    row[ck] = rng.choice(["采购部", "财务部", "技术部", "总经办"])
                elif rng.random() < 0.5:
                    row[ck] = rng.choice(["喜欢打高尔夫", "爱喝茶", "常驻本地", "重要"])
            rows.append({k: v for k, v in row.items() if v not in (None, "")})
        return rows
    if kind in ("text", "textarea"):
        if key in PHRASES:
            return rng.choice(PHRASES[key]).format(trade=trade, city=city[0])
        if key == "credit_code":
            return "91" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(16))
        if key == "address":
            return f"{city[0]}市{city[2]}{rng.choice(STREETS)}{rng.randint(1, 999)}号"
        if key == "postal_code":
            return f"{rng.randint(100000, 850000)}"
        if key.endswith("birthplace") or key.endswith("native_place") or key in ("service_area", "product_origins",
                                                                                  "ship_from", "ship_to"):
            return rng.choice(CITIES)[0]
        if key == "bank_name":
            return f"{rng.choice(['中国工商银行', '中国建设银行', '招商银行', '中国银行'])}{city[0]}分行"
        if key == "bank_account":
            return "".join(rng.choice("0123456789") for _ in range(19))
        if key == "budget_range":
            return f"{rng.choice([10, 20, 50, 100])}万-{rng.choice([150, 200, 300])}万"
        if key in ("monthly_sales", "freight_volume", "stock_level"):
            return f"约{rng.randint(1, 500)}吨"
        if key.endswith("interests") or key.endswith("hobbies") or key.endswith("habits"):
            return rng.choice(["高尔夫", "钓鱼", "茶道", "书法", "摄影", "羽毛球"])
        if key == "pic_major":
            return rng.choice(["市场营销", "机械工程", "会计", "国际贸易"])
        if key == "pic_honorary_titles":
            return rng.choice(["行业协会理事", "商会副会长"])
        if key == "pic_specialties":
            return rng.choice(["谈判", "英语", "财务分析"])
        if key == "supervising_body":
            return f"{city[0]}市商务局"
        return f"{trade}相关" if kind == "text" else f"{contact}介绍：{trade}业务稳定。"
    return None


def grade_for(values: dict) -> str | None:
    """A/B/C by annual amount (A ≥ 50万, B 10–50万, C < 10万), as the seeds classify clients."""
    amount = values.get("annual_amount")
    if amount is None:
        return None
    return "A" if amount >= 500000 else "B" if amount >= 100000 else "C"


# ---------------------------------------------------------------- demo

def load_demo(email: str, password: str, seed: int = 2026) -> Tenant:
    """The demo tenant 华光贸易(演示): an owner (email/password), two members, a viewer and ~40 clients with history."""
    from app.accounts.services import add_user, create_tenant
    from app.clients.services import create_client, set_archived, update_client

    rng = random.Random(seed)
    tenant, owner = create_tenant(DEMO_COMPANY, "陈总", email, password, "zh_CN", TEMPLATE_KEY)
    with tenant_context(tenant.id):
        domain = email.split("@", 1)[1] if "@" in email else "demo.local"
        local = email.split("@", 1)[0]
        members = [add_user(f"{local}+{who}@{domain}", password, role, name)
                   for who, role, name in (("wang", "member", "王丽"), ("zhao", "member", "赵强"),
                                           ("sun", "viewer", "孙敏"))]
        editors = [owner, members[0], members[1]]
        template = load_template()
        people = [u.id for u in editors]
        clients = []
        used = set()
        for i in range(40):
            while True:
                name, industry, trade, city = company_name(rng)
                if name not in used:
                    used.add(name)
                    break
            actor = rng.choice(editors)
            values = field_values(rng, template, name=name, industry=industry, trade=trade, city=city, people=people,
                                  fill=0.6, sensitive=rng.random() < 0.3)
            stage = rng.choice(tenant.stages[:4] * 3 + tenant.stages[4:])
            if stage == tenant.stages[0]:  # a prospect has not bought yet: no yearly amount, no first deal
                for key in ("annual_amount", "first_deal_date", "credit_limit"):
                    values.pop(key, None)
            tags = rng.sample(TAGS, rng.randint(0, 3))
            co = [u.id for u in editors if u.id != actor.id and rng.random() < 0.25]
            client = create_client(actor, name=name, stage=stage, owner_id=actor.id, tags=tags,
                                   fields={k: _as_input(v) for k, v in values.items()}, co_owner_ids=co,
                                   allow_duplicate=True, template=template, enforce_required=False)
            client.grade, client.grade_source = grade_for(client.values), "rule"
            clients.append(client)
        db.session.flush()
        # A little history: some cards were edited after creation, a couple archived.
        for client in [c for c in clients if c.stage != tenant.stages[0]][:8]:
            editor = rng.choice(editors)
            update_client(editor, client, version=None, stage=rng.choice(tenant.stages[2:4]),
                          fields={"next_step": rng.choice(PHRASES["next_step"]),
                                  "annual_amount": f"{rng.choice([15, 30, 60, 90])}万"}, template=template)
            client.grade = grade_for(client.values)
        for client in clients[8:12]:
            update_client(owner, client, version=None, tags=[*client.tags, "需回访"],
                          fields={"payment_attitude": rng.choice(["爽快", "一般", "迟缓"])}, template=template)
        for client in clients[-2:]:
            set_archived(owner, client, True)
        _demo_followups(rng, editors, clients[:-2])
        db.session.commit()
    return tenant


def _demo_followups(rng, editors, clients) -> None:
    """Follow-ups of the last months, so Today, the timeline and the quarterly review have something to show."""
    from datetime import timedelta

    from app.followups.services import add_followup, local_today

    today = local_today()
    notes = ["电话回访，了解下季度采购计划", "上门拜访，介绍新产品", "微信沟通报价细节", "邮件发送合同草稿"]
    for client in clients:
        author = next((u for u in editors if u.id == client.owner_id), editors[0])
        for _ in range(rng.randint(0, 3)):
            when = today - timedelta(days=rng.randint(1, 200))
            add_followup(author, client, {
                "date": when.isoformat(), "method": rng.choice(["电话", "上门拜访", "微信", "邮件"]),
                "content": rng.choice(notes), "satisfaction": str(rng.randint(3, 5)) if rng.random() < 0.6 else "",
                "next_date": (when + timedelta(days=rng.choice([7, 14, 30]))).isoformat() if rng.random() < 0.3
                else ""})


def _as_input(value):
    """A stored value as form-like input for create_client (the value library parses it back)."""
    if isinstance(value, bool):
        return "是" if value else "否"
    return value


# ---------------------------------------------------------------- benchmark data

def _number_writer(tenant: Tenant):
    """Render client numbers of the tenant's pattern for given creation times, counting per period."""
    from app.clients.numbers import PATTERN_TOKEN as _TOKEN

    pattern = tenant.setting("number_pattern")
    zone = ZoneInfo(tenant.timezone or "Asia/Shanghai")
    counters: dict[str, int] = {}

    def number(at: datetime) -> str:
        local = at.astimezone(zone)
        parts = {"YYYY": f"{local.year:04d}", "YY": f"{local.year % 100:02d}", "MM": f"{local.month:02d}",
                 "DD": f"{local.day:02d}"}
        period = "".join(parts[m.group(1)] for m in _TOKEN.finditer(pattern)
                         if not m.group(1).startswith("SEQ")) or "all"
        seq = counters[period] = counters.get(period, 0) + 1

        def render(m):
            token = m.group(1)
            return f"{seq:0{int(m.group(2) or 1)}d}" if token.startswith("SEQ") else parts[token]

        return _TOKEN.sub(render, pattern)

    return number, counters


def _bulk_clients(tenant: Tenant, template: CardTemplate, n: int, rng: random.Random, people: list[int],
                  serial_start: int | None, echo=None) -> int:
    """Insert n clients of the current tenant in batches, with numbers, search text, completeness and match keys."""
    number, counters = _number_writer(tenant)
    now = datetime.now(timezone.utc)
    stages = tenant.stages
    created_times = sorted(now - timedelta(minutes=rng.randrange(2 * 365 * 24 * 60)) for _ in range(n))
    done = 0
    started = time.monotonic()
    while done < n:
        size = min(BATCH, n - done)
        rows, keys_per_row, co_rows = [], [], []
        for j in range(size):
            serial = None if serial_start is None else serial_start + done + j
            name, industry, trade, city = company_name(rng, serial)
            values = field_values(rng, template, name=name, industry=industry, trade=trade, city=city, people=people,
                                  fill=0.6)
            created = created_times[done + j]
            updated = min(now, created + timedelta(days=rng.randrange(0, 120)))
            tags = rng.sample(TAGS, rng.randint(0, 3))
            stub = SimpleNamespace(name=name, number=number(created), tags=tags, values=values)
            rows.append({
                "tenant_id": tenant.id, "number": stub.number, "name": name, "name_sort": name_sort_key(name),
                "stage": rng.choice(stages), "grade": grade_for(values), "grade_source": "rule",
                "owner_id": rng.choice(people), "tags": tags, "values": values,
                "search_text": build_search_text(template, stub), "completeness": completeness(template, values),
                "version": 1, "archived_at": updated if rng.random() < 0.03 else None,
                "created_by_id": people[0], "created_at": created, "updated_at": updated,
            })
            keys_per_row.append(match_keys(template, name, values))
        ids = db.session.scalars(insert(Client).returning(Client.id, sort_by_parameter_order=True), rows).all()
        key_rows = [{"tenant_id": tenant.id, "client_id": cid, "kind": kind, "value": value}
                    for cid, keys in zip(ids, keys_per_row) for kind, value in keys]
        change_rows = [{"tenant_id": tenant.id, "client_id": cid, "version": 1, "actor_id": people[0],
                        "at": row["created_at"], "action": "create",
                        "changes": {"@name": {"from": None, "to": row["name"]}}, "note": "seed"}
                       for cid, row in zip(ids, rows)]
        for cid in ids:
            if len(people) > 1 and rng.random() < 0.1:
                co_rows.append({"tenant_id": tenant.id, "client_id": cid, "user_id": rng.choice(people[1:])})
        db.session.execute(insert(ClientMatchKey), key_rows)
        db.session.execute(insert(ClientSearchGrams), [
            {"tenant_id": tenant.id, "client_id": cid, "grams": search_grams(row["search_text"])}
            for cid, row in zip(ids, rows)])
        value_rows = [{"tenant_id": tenant.id, "client_id": cid, "key": k, "num": num, "txt": txt}
                      for cid, row in zip(ids, rows) for k, num, txt in field_value_rows(template, row["values"])]
        if value_rows:
            db.session.execute(insert(ClientFieldValue), value_rows)
        db.session.execute(insert(ClientChange), change_rows)
        if co_rows:
            db.session.execute(insert(ClientCoOwner), [dict(r) for r in {(r["client_id"], r["user_id"]): r
                                                                          for r in co_rows}.values()])
        done += size
        db.session.commit()
        if echo and n >= 5 * BATCH and (done % (10 * BATCH) == 0 or done == n):
            echo(f"  {done:,}/{n:,} clients ({time.monotonic() - started:.0f}s)")
    # The counters are written once, at the end, as if every number had been allocated one by one.
    for period, last in counters.items():
        db.session.add(ClientNumberCounter(tenant_id=tenant.id, period=period, last_value=last))
    db.session.commit()
    return done


def _bench_tenant(name: str, email: str, password_hash: str, members: int) -> tuple[Tenant, list[int]]:
    """A tenant with an owner, `members` members and the default template, without hashing a password each time."""
    tenant = Tenant(name=name, settings={})
    db.session.add(tenant)
    db.session.flush()
    with tenant_context(tenant.id):
        users = [User(tenant_id=tenant.id, email=email, name="老板", role="owner", password_hash=password_hash)]
        local, domain = email.split("@", 1)
        for i in range(members):
            users.append(User(tenant_id=tenant.id, email=f"{local}+m{i}@{domain}", name=_person_name(random.Random(i)),
                              role="member", password_hash=password_hash))
        db.session.add_all(users)
        db.session.flush()
        install_builtin(TEMPLATE_KEY, actor_id=users[0].id)
        db.session.flush()
    return tenant, [u.id for u in users]


def seed_bench(tenants: int, clients: int, small_clients: int = 5, echo=None, seed: int = 7) -> int:
    """Benchmark data: one big tenant with `clients` clients (~60 filled fields each) and `tenants` small ones."""
    from app.accounts.models import _hasher

    echo = echo or (lambda *_: None)
    rng = random.Random(seed)
    run = f"{int(time.time())}{rng.randrange(1000):03d}"
    password_hash = _hasher.hash(BENCH_PASSWORD)
    started = time.monotonic()
    big, big_people = _bench_tenant("基准测试大客户公司", f"owner@big-{run}.bench.local", password_hash, members=20)
    db.session.commit()
    big_id = big.id
    echo(f"big tenant {big_id}: {clients:,} clients")
    with tenant_context(big_id):
        template = load_template()
        _bulk_clients(big, template, clients, rng, big_people, serial_start=0, echo=echo)
    echo(f"  done in {time.monotonic() - started:.0f}s; {tenants:,} small tenants × {small_clients} clients")
    for i in range(tenants):
        small, people = _bench_tenant(f"小公司{i + 1:04d}", f"owner@t{i}-{run}.bench.local", password_hash, members=2)
        db.session.flush()
        if small_clients:
            with tenant_context(small.id):
                _bulk_clients(small, load_template(), small_clients, rng, people, serial_start=None)
        else:
            db.session.commit()
        if (i + 1) % 100 == 0:
            echo(f"  {i + 1:,}/{tenants:,} small tenants ({time.monotonic() - started:.0f}s)")
    db.session.commit()
    echo(f"seeded in {time.monotonic() - started:.0f}s")
    return big_id


def bench_owner_email(tenant_id: int) -> str:
    """The sign-in of a benchmark tenant's owner (its password is BENCH_PASSWORD)."""
    with tenant_context(tenant_id):
        return db.session.scalars(select(User.email).where(User.role == "owner")).first()


__all__ = ["load_demo", "seed_bench", "bench_owner_email", "BENCH_PASSWORD", "DEMO_COMPANY"]
