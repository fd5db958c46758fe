"""A person's copy of what `edm` holds about them (PIPL Art. 45, GDPR Art. 15 and 20).

`gather` reads every row about one customer from the store into plain records; `archive` (pure)
turns them into a zip: each section as JSON and as CSV, and a README in the person's language
saying what each file holds and whom to ask. `export_customer` does both and writes the audit entry.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.addresses import canonical_address
from edm.customers.card import _find
from edm.inert import inert
from edm.privacy.audit import EXPORT, record_audit
from edm.render import language_chain
from edm.store import (
    Consent,
    ConsentHistory,
    Customer,
    CustomerEvent,
    CustomerProfile,
    Event,
    Order,
    OutboxMessage,
    ProfileTransition,
    Signup,
    SurveyAnswer,
    WalletEstimate,
)
from edm.store import Contact as ContactRow

Record = dict[str, Any]
# the sections of an export, in README order; each becomes NAME.json and NAME.csv
SECTIONS = ("customer", "contacts", "consent", "consent_history", "signups", "profile", "transitions",
            "orders", "wallet", "mails", "events", "survey_answers", "custom_events")
__all__ = ["SECTIONS", "BrandContact", "PersonalData", "archive", "export_customer", "find_customer",
           "gather", "readme", "readme_language"]


@dataclass(frozen=True)
class PersonalData:
    """Everything held about one customer, section by section, as plain JSON-ready records."""

    customer_id: int
    locale: str
    sections: dict[str, list[Record]] = field(default_factory=dict)

    @property
    def mailboxes(self) -> list[str]:
        """The customer's address and their contacts' (as stored)."""
        return [row["email"] for row in (*self.sections["customer"], *self.sections["contacts"])]


@dataclass(frozen=True)
class BrandContact:
    """Whom the person may ask about their data: the brand settings in their language."""

    company: str
    email: str
    phone: str | None = None
    website: str | None = None
    postal_address: str | None = None


def gather(session: Session, customer: Customer,
           subject_of: Callable[[OutboxMessage], str | None] | None = None) -> PersonalData:
    """Every row about `customer`. `subject_of` gives a mail's subject (re-rendered; None if it cannot be)."""
    cid = customer.id
    contacts = list(session.scalars(select(ContactRow).where(ContactRow.customer_id == cid)
                                    .order_by(ContactRow.id)))
    keys = sorted({canonical_address(customer.email), *(canonical_address(c.email) for c in contacts)})
    mails = list(session.scalars(select(OutboxMessage).where(OutboxMessage.customer_id == cid)
                                 .order_by(OutboxMessage.created_at, OutboxMessage.id)))
    campaign_of = {mail.id: mail.campaign for mail in mails}
    sections: dict[str, list[Record]] = {
        "customer": [_columns(customer, exclude=("email_key",))],
        "contacts": [_columns(c, exclude=("customer_id",)) for c in contacts],
        "consent": [_columns(c) for c in session.scalars(
            select(Consent).where(Consent.address_key.in_(keys)).order_by(Consent.address_key))],
        "consent_history": [_columns(c, exclude=("id",)) for c in session.scalars(
            select(ConsentHistory).where(ConsentHistory.address_key.in_(keys))
            .order_by(ConsentHistory.recorded_at, ConsentHistory.id))],
        "signups": [_columns(s, exclude=("id", "nonce", "address_key")) for s in session.scalars(
            select(Signup).where(Signup.address_key.in_(keys)).order_by(Signup.created_at, Signup.id))],
        "profile": [_columns(p, exclude=("customer_id",)) for p in session.scalars(
            select(CustomerProfile).where(CustomerProfile.customer_id == cid))],
        "transitions": [_columns(t, exclude=("id", "customer_id")) for t in session.scalars(
            select(ProfileTransition).where(ProfileTransition.customer_id == cid)
            .order_by(ProfileTransition.computed_at, ProfileTransition.id))],
        "orders": [_columns(o, exclude=("id", "customer_id")) for o in session.scalars(
            select(Order).where(Order.customer_id == cid).order_by(Order.ordered_at, Order.id))],
        "wallet": [_columns(w, exclude=("customer_id",)) for w in session.scalars(
            select(WalletEstimate).where(WalletEstimate.customer_id == cid))],
        "mails": [_mail(mail, subject_of) for mail in mails],
        "events": [{"campaign": campaign_of.get(e.outbox_id or -1), **_columns(e, exclude=("customer_id",))}
                   for e in session.scalars(select(Event).where(Event.customer_id == cid)
                                            .order_by(Event.occurred_at, Event.id))],
        "survey_answers": [{"campaign": campaign_of.get(a.outbox_id),
                            **_columns(a, exclude=("id", "customer_id"))} for a in session.scalars(
            select(SurveyAnswer).where(SurveyAnswer.customer_id == cid).order_by(SurveyAnswer.answered_at))],
        "custom_events": [_columns(e, exclude=("id", "customer_id", "idempotency_key"))
                          for e in session.scalars(select(CustomerEvent)
                                                   .where(CustomerEvent.customer_id == cid)
                                                   .order_by(CustomerEvent.occurred_at, CustomerEvent.id))],
    }
    return PersonalData(cid, customer.locale, sections)


def _mail(mail: OutboxMessage, subject_of: Callable[[OutboxMessage], str | None] | None) -> Record:
    record = _columns(mail, exclude=("key", "customer_id", "claimed_until", "next_attempt_at", "attempts"))
    record["subject"] = subject_of(mail) if subject_of is not None else None
    return record


def _columns(row: Any, exclude: Sequence[str] = ()) -> Record:
    return {column.key: _plain(getattr(row, column.key)) for column in row.__table__.columns
            if column.key not in exclude}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# README texts: (title, intro, contact heading, the line per section), per language
_README: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your personal data held by {company}",
        "intro": ("This archive holds everything our email system keeps about you, exported on {when} (UTC). "
                  "Each part is given twice: as JSON (for programs) and as CSV (for spreadsheets)."),
        "contact": "Questions, corrections or a request to delete your data: {company}",
        "customer": "your customer record: name, email address, language, time zone, birthday, custom fields",
        "contacts": "the people at your company we write to (for company accounts)",
        "consent": "why we may email each of your addresses now (basis, status, source, time)",
        "consent_history": "every consent ever recorded for your addresses, oldest first",
        "signups": "sign-ups through our web forms, with the IP address and browser they came from",
        "profile": "how we classify you (value tier, lifecycle stage, ...) and the figures behind it",
        "transitions": "each time one of those classes changed",
        "orders": "your orders as we received them",
        "wallet": "our estimate of your spending in our category (company accounts)",
        "mails": "every email we planned or sent you: campaign, subject, date, state",
        "events": "opens, clicks, unsubscribes and bounces of those emails",
        "survey_answers": "your survey scores and comments",
        "custom_events": "other things our systems told this one about you",
    },
    "zh-hans": {
        "title": "{company} 持有的您的个人信息",
        "intro": "本压缩包包含我们的邮件系统保存的关于您的全部信息，导出时间 {when}（UTC）。"
                 "每一部分都有两种格式：JSON（供程序读取）和 CSV（可用电子表格打开）。",
        "contact": "如有疑问、需要更正或要求删除您的信息，请联系：{company}",
        "customer": "您的客户记录：姓名、邮箱地址、语言、时区、生日、自定义字段",
        "contacts": "我们联系的贵公司人员（企业客户）",
        "consent": "我们目前可以向您的每个邮箱发送邮件的依据（依据、状态、来源、时间）",
        "consent_history": "您的邮箱的全部同意记录，按时间先后排列",
        "signups": "通过我们网页表单的注册，以及提交时的 IP 地址和浏览器",
        "profile": "我们对您的分类（价值层级、生命周期阶段等）及其依据的数据",
        "transitions": "上述分类每一次的变化",
        "orders": "我们收到的您的订单",
        "wallet": "我们对您在本品类支出的估计（企业客户）",
        "mails": "我们计划或已发送给您的每一封邮件：活动、主题、日期、状态",
        "events": "这些邮件的打开、点击、退订和退信记录",
        "survey_answers": "您的调查评分和留言",
        "custom_events": "我们的其他系统告知本系统的与您有关的事件",
    },
    "zh-hant": {
        "title": "{company} 持有的您的個人資料",
        "intro": "本壓縮檔包含我們的郵件系統保存的關於您的全部資料，匯出時間 {when}（UTC）。"
                 "每一部分都有兩種格式：JSON（供程式讀取）和 CSV（可用試算表開啟）。",
        "contact": "如有疑問、需要更正或要求刪除您的資料，請聯絡：{company}",
        "customer": "您的客戶記錄：姓名、電子郵件地址、語言、時區、生日、自訂欄位",
        "contacts": "我們聯絡的貴公司人員（企業客戶）",
        "consent": "我們目前可以寄送郵件到您每個信箱的依據（依據、狀態、來源、時間）",
        "consent_history": "您的信箱的全部同意記錄，依時間先後排列",
        "signups": "透過我們網頁表單的註冊，以及提交時的 IP 位址和瀏覽器",
        "profile": "我們對您的分類（價值層級、生命週期階段等）及其依據的數據",
        "transitions": "上述分類每一次的變化",
        "orders": "我們收到的您的訂單",
        "wallet": "我們對您在本品類支出的估計（企業客戶）",
        "mails": "我們計劃或已寄給您的每一封郵件：活動、主旨、日期、狀態",
        "events": "這些郵件的開啟、點擊、取消訂閱和退信記錄",
        "survey_answers": "您的調查評分和留言",
        "custom_events": "我們的其他系統告知本系統的與您有關的事件",
    },
}
_CONTACT_LABELS = {"en": ("Email", "Phone", "Website", "Address"),
                   "zh-hans": ("邮箱", "电话", "网站", "地址"),
                   "zh-hant": ("電子郵件", "電話", "網站", "地址")}


def readme_language(locale: str) -> str:
    """The README's language for a customer's locale: zh-hant, zh-hans or en (`render.language_chain`)."""
    return next((language for language in language_chain(locale) if language in _README), "en")


def readme(data: PersonalData, contact: BrandContact, when: datetime) -> tuple[str, str]:
    """(language, text) of the README: what each file holds and whom to contact, in the person's language."""
    language = readme_language(data.locale)
    texts = _README[language]
    labels = _CONTACT_LABELS[language]
    lines = [texts["title"].format(company=contact.company), "",
             texts["intro"].format(when=when.strftime("%Y-%m-%d %H:%M")), ""]
    for name in SECTIONS:
        lines.append(f"{name}.json, {name}.csv ({len(data.sections[name])}): {texts[name]}")
    lines += ["", texts["contact"].format(company=contact.company), f"  {labels[0]}: {contact.email}"]
    extra = (contact.phone, contact.website, contact.postal_address)
    for label, value in zip(labels[1:], extra, strict=True):
        if value:
            lines.append(f"  {label}: {value}")
    return language, "\n".join(lines) + "\n"


def archive(data: PersonalData, contact: BrandContact, when: datetime) -> bytes:
    """The zip: README.txt, then NAME.json and NAME.csv for every section (empty ones too: "none held")."""
    buffer = io.BytesIO()
    stamp = when.timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        def put(name: str, text: str) -> None:
            zipped.writestr(zipfile.ZipInfo(name, date_time=stamp), text.encode("utf-8"),
                            compress_type=zipfile.ZIP_DEFLATED)

        put("README.txt", readme(data, contact, when)[1])
        for name in SECTIONS:
            rows = data.sections[name]
            put(f"{name}.json", json.dumps(rows, ensure_ascii=False, indent=2, sort_keys=False) + "\n")
            put(f"{name}.csv", _csv(rows))
    return buffer.getvalue()


def _csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """UTF-8 with a BOM (Excel reads Chinese right); nested values as JSON; formulas neutralised."""
    out = io.StringIO()
    out.write("\ufeff")
    columns = list(dict.fromkeys(key for row in rows for key in row))
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return inert(json.dumps(value, ensure_ascii=False, sort_keys=True))
    if isinstance(value, bool):
        return "true" if value else "false"
    return inert(str(value))


def find_customer(session: Session, key: str) -> Customer:
    """The customer whose external id (else internal number) is `key`; CustomerNotFound names it."""
    return _find(session, key)


def export_customer(sessions: sessionmaker[Session], key: str, contact: BrandContact, actor: str,
                    now: datetime, subject_of: Callable[[OutboxMessage], str | None] | None = None,
                    ) -> tuple[int, bytes]:
    """(internal id, zip bytes) for the customer `key`, the export recorded in the audit log."""
    with sessions.begin() as session:
        customer = find_customer(session, key)
        data = gather(session, customer, subject_of)
        record_audit(session, actor, EXPORT, f"customer {customer.id}", now)
        return customer.id, archive(data, contact, now)

