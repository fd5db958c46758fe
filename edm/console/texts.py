"""The console's words in en, zh-Hans and zh-Hant; the page language from a cookie or Accept-Language.

Every key exists in every language (tests/console/test_pages.py checks). Values shown inside
these texts are filled in by the templates, which escape them.
"""

from __future__ import annotations

from collections.abc import Mapping

from edm.signup.pages import page_language
from edm.tracking.pages import Language

LANGUAGES: tuple[Language, ...] = ("zh-Hans", "zh-Hant", "en")
LANGUAGE_NAMES: Mapping[Language, str] = {"zh-Hans": "简体中文", "zh-Hant": "繁體中文", "en": "English"}

TEXTS: Mapping[Language, Mapping[str, str]] = {
    "en": {
        "console": "edm console",
        "sign_in": "Sign in", "sign_out": "Sign out", "name": "User name", "password": "Password",
        "wrong": "Wrong user name or password.",
        "too_many": "Too many sign-in attempts. Wait a few minutes and try again.",
        "today": "Today", "campaigns": "Campaigns", "customers": "Customers",
        "signed_in_as": "Signed in as {user} ({role})",
        "refused": "Not allowed", "refused_text": "Your role may not do this, or may not see this page.",
        "expired": "This form has expired. Go back, reload the page and try again.",
        "not_found": "Not found",
        "campaign": "Campaign", "kind": "Kind", "trigger": "Trigger", "topic": "Topic",
        "next_due": "Next due", "paused": "Paused", "approval": "Approval", "last_run": "Last run",
        "yes": "yes", "no": "no", "none": "none", "not_needed": "not needed",
        "approved_by": "approved by {user}, {when}", "awaiting": "awaiting approval",
        "approve": "Approve", "revoke": "Withdraw approval", "pause": "Pause", "resume": "Resume",
        "validation": "Validation", "valid": "Loads, and every message renders.",
        "definition": "Definition (read only)", "broken_files": "Files that do not load",
        "done_approve": "Approved.", "done_revoke": "Approval withdrawn.", "done_pause": "Paused.",
        "done_resume": "Resumed.", "done_nothing": "Nothing to change.",
        "due_today": "Due today", "due_week": "Due in the next 7 days", "queued": "Queued",
        "sending": "Sending", "sent_today": "Sent today", "waiting": "Waiting",
        "paused_scopes": "Paused", "bulk": "all bulk mail", "since": "since", "reason": "reason",
        "nothing_paused": "Nothing is paused.", "yesterday": "Yesterday",
        "sent": "Sent", "bounced": "Bounced", "opens": "Opens", "clicks": "Clicks",
        "search": "Search", "search_hint": "Name, company, email or customer id",
        "no_match": "No customer matches.", "email": "Email", "id": "Id", "manager": "Account manager",
        "classes": "Classes", "dimension": "Dimension", "class": "Class", "why": "Why",
        "engagement": "Engagement", "consent": "Consent", "timeline": "Timeline",
        "when": "When (UTC)", "what": "What", "not_classified": "Not classified yet.",
        "order": "order", "mail": "mail", "event": "event", "survey": "survey answer",
        "moved": "class change", "language": "Language", "state": "State",
        "marketing_ok": "marketing may be sent", "marketing_held": "marketing held: {why}",
        "preferences": "Preferences", "topics_off": "Topics turned off",
        "all_topics_on": "none, every topic on", "personalised": "Personalised mail",
        "frequency_preference": "Asked for",
        "paused_until": "No marketing until",
        "reports": "Reports", "report_engagement": "Engagement and uplift",
        "report_lifecycle": "Lifecycle moves",
        "report_frequency": "Contact frequency", "report_satisfaction": "Satisfaction (NPS, CSAT)",
        "report_deliverability": "Deliverability (bounces, complaints)", "from_day": "From (included)",
        "to_day": "To (excluded)", "show": "Show", "open": "Open", "download": "Download XLSX",
        "period_hint": "Empty: the last 90 days.",
        "preview": "Preview: who would get it now, who is held back and why, each message",
        "audience": "Audience", "would_send": "Would send", "decisions": "Decisions, by reason",
        "send": "send", "held": "held back", "split": "By variant, value tier and stage",
        "variant": "Variant", "count": "Count", "examples": "Some recipients", "subject": "Subject",
        "text_part": "Text part", "due_now": "Due today", "not_due": "Not due today: shown as if run by hand",
        "waiting_classes": "Waiting, by value tier and lifecycle stage", "tier": "Value tier",
        "stage": "Lifecycle stage",
        "alerts": "Alerts of the last 7 days", "churn_risk": "Your customers by churn risk",
        "alive": "Still buying (probability)",
        # reports: filters and downloads (issue 23)
        "download_csv": "Download CSV (zip)", "choose_filters": "Choose a period and filters",
        "csv_hint": "CSV: a zip with one file per table, as edm report --format csv writes them.",
        "choice_by": "Group by (one table each)", "choice_period": "Per",
        "choice_industry": "Industry", "choice_locale": "Locale", "choice_day": "day",
        "choice_week": "ISO week", "choice_month": "month", "choice_quarter": "quarter",
        "failed_today": "Failed or bounced today", "as_of": "Figures as of {when} UTC.",
        "sending_now": "Sending now", "refresh": "Refresh the page",
        "deliverability": "Deliverability, last {days} days", "rate_error": "Error", "rate_warn": "Warning",
        "bounce_rate": "Bounce rate", "complaint_rate": "Complaint rate",
        "rate_figures": "{count} of {sent} sent = {rate}.",
        "rate_lines": "Warning from {warn}, error from {error}.",
        "rates_fine": "All is well: bounces and complaints are under their warning lines "
                      "(as edm doctor judges them).",
        "rate": "Rate", "warn_from": "Warning from", "error_from": "Error from",
        "planned_classes": "Audience of the campaigns due, by value tier and lifecycle stage",
        "planned_hint": "What each campaign's audience rules select today, before the holds decided "
                        "when it is planned (consent, suppression, contact frequency, sunset, time zones): "
                        "at most this many. Its preview has the exact figures.",
        "manager_alerts": "Account managers' alerts, last {days} days",
        "my_alerts": "{count} alerts about your customers.",
        "see_customers": "See them", "alerts_count": "Alerts", "no_alerts": "No alerts.",
        "skip": "Skip to content", "paused_now": "Sending paused now: {count}.", "see_paused": "See why",
    },
    "zh-Hans": {
        "console": "edm 控制台",
        "sign_in": "登录", "sign_out": "退出", "name": "用户名", "password": "密码",
        "wrong": "用户名或密码错误。",
        "too_many": "登录尝试过多，请几分钟后再试。",
        "today": "今日", "campaigns": "营销活动", "customers": "客户",
        "signed_in_as": "当前用户 {user}（{role}）",
        "refused": "无权操作", "refused_text": "您的角色不能执行此操作，或不能查看此页面。",
        "expired": "表单已过期，请返回并刷新页面后重试。",
        "not_found": "未找到",
        "campaign": "活动", "kind": "类型", "trigger": "触发", "topic": "主题",
        "next_due": "下次发送", "paused": "已暂停", "approval": "审批", "last_run": "上次运行",
        "yes": "是", "no": "否", "none": "无", "not_needed": "无需审批",
        "approved_by": "{user} 于 {when} 批准", "awaiting": "待审批",
        "approve": "批准", "revoke": "撤回批准", "pause": "暂停", "resume": "恢复",
        "validation": "校验", "valid": "加载成功，所有邮件均可渲染。",
        "definition": "定义（只读）", "broken_files": "无法加载的文件",
        "done_approve": "已批准。", "done_revoke": "已撤回批准。", "done_pause": "已暂停。",
        "done_resume": "已恢复。", "done_nothing": "无需更改。",
        "due_today": "今日发送", "due_week": "未来 7 天发送", "queued": "排队中",
        "sending": "发送中", "sent_today": "今日已发送", "waiting": "等待中",
        "paused_scopes": "已暂停", "bulk": "全部群发邮件", "since": "自", "reason": "原因",
        "nothing_paused": "没有暂停的发送。", "yesterday": "昨日",
        "sent": "已发送", "bounced": "退信", "opens": "打开", "clicks": "点击",
        "search": "搜索", "search_hint": "姓名、公司、邮箱或客户编号",
        "no_match": "没有匹配的客户。", "email": "邮箱", "id": "编号", "manager": "客户经理",
        "classes": "分类", "dimension": "维度", "class": "类别", "why": "原因",
        "engagement": "互动", "consent": "同意", "timeline": "时间线",
        "when": "时间（UTC）", "what": "内容", "not_classified": "尚未分类。",
        "order": "订单", "mail": "邮件", "event": "事件", "survey": "问卷回答",
        "moved": "类别变化", "language": "语言", "state": "状态",
        "marketing_ok": "可发送营销邮件", "marketing_held": "暂不发送营销邮件：{why}",
        "preferences": "偏好", "topics_off": "已关闭的主题", "all_topics_on": "无，全部主题开启",
        "personalised": "个性化邮件", "frequency_preference": "联系频率要求",
        "paused_until": "暂停营销邮件至",
        "reports": "报表", "report_engagement": "互动与增量", "report_lifecycle": "生命周期变化",
        "report_frequency": "联系频率", "report_satisfaction": "满意度（NPS、CSAT）",
        "report_deliverability": "送达率（退信、投诉）", "from_day": "起始日（含）",
        "to_day": "截止日（不含）", "show": "显示", "open": "打开", "download": "下载 XLSX",
        "period_hint": "留空：最近 90 天。",
        "preview": "预览：现在会发给谁、谁被拦下及原因、每封邮件",
        "audience": "受众", "would_send": "将发送", "decisions": "决定（按原因）",
        "send": "发送", "held": "拦下", "split": "按变体、价值层级与阶段",
        "variant": "变体", "count": "数量", "examples": "部分收件人", "subject": "主题",
        "text_part": "纯文本部分", "due_now": "今日发送", "not_due": "今日不发送：按手动运行显示",
        "waiting_classes": "待发送（按价值层级与生命周期阶段）", "tier": "价值层级", "stage": "生命周期阶段",
        "alerts": "最近 7 天的提醒", "churn_risk": "我的客户（按流失风险）", "alive": "仍在购买的概率",
        # reports: filters and downloads (issue 23)
        "download_csv": "下载 CSV（zip）", "choose_filters": "选择周期与筛选条件",
        "csv_hint": "CSV：一个 zip，每个表格一个文件，与 edm report --format csv 相同。",
        "choice_by": "分组（每项一个表格）", "choice_period": "周期",
        "choice_industry": "行业", "choice_locale": "语言区域", "choice_day": "按日",
        "choice_week": "按 ISO 周", "choice_month": "按月", "choice_quarter": "按季度",
        "failed_today": "今日失败或退信", "as_of": "数据截至 UTC {when}。",
        "sending_now": "正在发送", "refresh": "刷新页面",
        "deliverability": "送达情况（最近 {days} 天）", "rate_error": "错误", "rate_warn": "警告",
        "bounce_rate": "退信率", "complaint_rate": "投诉率",
        "rate_figures": "已发送 {sent} 封中 {count} 封 = {rate}。",
        "rate_lines": "{warn} 起警告，{error} 起为错误。",
        "rates_fine": "一切正常：退信和投诉均低于警告线（按 edm doctor 的标准）。",
        "rate": "比率", "warn_from": "警告线", "error_from": "错误线",
        "planned_classes": "待发送活动的受众（按价值层级与生命周期阶段）",
        "planned_hint": "各活动的受众规则今天选出的客户，尚未计入规划时的拦截"
                        "（同意、退订名单、联系频率、休眠、时区）：最多这么多。预览中有确切数字。",
        "manager_alerts": "客户经理的提醒（最近 {days} 天）",
        "my_alerts": "您的客户有 {count} 条提醒。",
        "see_customers": "查看", "alerts_count": "提醒", "no_alerts": "没有提醒。",
        "skip": "跳到正文", "paused_now": "当前暂停的发送：{count} 项。", "see_paused": "查看原因",
    },
    "zh-Hant": {
        "console": "edm 控制台",
        "sign_in": "登入", "sign_out": "登出", "name": "使用者名稱", "password": "密碼",
        "wrong": "使用者名稱或密碼錯誤。",
        "too_many": "登入嘗試過多，請幾分鐘後再試。",
        "today": "今日", "campaigns": "行銷活動", "customers": "客戶",
        "signed_in_as": "目前使用者 {user}（{role}）",
        "refused": "無權操作", "refused_text": "您的角色不能執行此操作，或不能檢視此頁面。",
        "expired": "表單已過期，請返回並重新整理頁面後再試。",
        "not_found": "找不到",
        "campaign": "活動", "kind": "類型", "trigger": "觸發", "topic": "主題",
        "next_due": "下次寄送", "paused": "已暫停", "approval": "核准", "last_run": "上次執行",
        "yes": "是", "no": "否", "none": "無", "not_needed": "無需核准",
        "approved_by": "{user} 於 {when} 核准", "awaiting": "待核准",
        "approve": "核准", "revoke": "撤回核准", "pause": "暫停", "resume": "恢復",
        "validation": "驗證", "valid": "載入成功，所有郵件皆可呈現。",
        "definition": "定義（唯讀）", "broken_files": "無法載入的檔案",
        "done_approve": "已核准。", "done_revoke": "已撤回核准。", "done_pause": "已暫停。",
        "done_resume": "已恢復。", "done_nothing": "無需變更。",
        "due_today": "今日寄送", "due_week": "未來 7 天寄送", "queued": "排隊中",
        "sending": "寄送中", "sent_today": "今日已寄送", "waiting": "等待中",
        "paused_scopes": "已暫停", "bulk": "全部大量郵件", "since": "自", "reason": "原因",
        "nothing_paused": "沒有暫停的寄送。", "yesterday": "昨日",
        "sent": "已寄送", "bounced": "退信", "opens": "開啟", "clicks": "點擊",
        "search": "搜尋", "search_hint": "姓名、公司、電子郵件或客戶編號",
        "no_match": "沒有符合的客戶。", "email": "電子郵件", "id": "編號", "manager": "客戶經理",
        "classes": "分類", "dimension": "維度", "class": "類別", "why": "原因",
        "engagement": "互動", "consent": "同意", "timeline": "時間軸",
        "when": "時間（UTC）", "what": "內容", "not_classified": "尚未分類。",
        "order": "訂單", "mail": "郵件", "event": "事件", "survey": "問卷回答",
        "moved": "類別變化", "language": "語言", "state": "狀態",
        "marketing_ok": "可寄送行銷郵件", "marketing_held": "暫不寄送行銷郵件：{why}",
        "preferences": "偏好", "topics_off": "已關閉的主題", "all_topics_on": "無，全部主題開啟",
        "personalised": "個人化郵件", "frequency_preference": "聯絡頻率要求",
        "paused_until": "暫停行銷郵件至",
        "reports": "報表", "report_engagement": "互動與增量", "report_lifecycle": "生命週期變化",
        "report_frequency": "聯絡頻率", "report_satisfaction": "滿意度（NPS、CSAT）",
        "report_deliverability": "送達率（退信、投訴）", "from_day": "起始日（含）",
        "to_day": "截止日（不含）", "show": "顯示", "open": "開啟", "download": "下載 XLSX",
        "period_hint": "留空：最近 90 天。",
        "preview": "預覽：現在會寄給誰、誰被攔下及原因、每封郵件",
        "audience": "受眾", "would_send": "將寄送", "decisions": "決定（依原因）",
        "send": "寄送", "held": "攔下", "split": "依變體、價值層級與階段",
        "variant": "變體", "count": "數量", "examples": "部分收件人", "subject": "主旨",
        "text_part": "純文字部分", "due_now": "今日寄送", "not_due": "今日不寄送：依手動執行顯示",
        "waiting_classes": "待寄送（依價值層級與生命週期階段）", "tier": "價值層級", "stage": "生命週期階段",
        "alerts": "最近 7 天的提醒", "churn_risk": "我的客戶（依流失風險）", "alive": "仍在購買的機率",
        # reports: filters and downloads (issue 23)
        "download_csv": "下載 CSV（zip）", "choose_filters": "選擇期間與篩選條件",
        "csv_hint": "CSV：一個 zip，每個表格一個檔案，與 edm report --format csv 相同。",
        "choice_by": "分組（每項一個表格）", "choice_period": "期間",
        "choice_industry": "產業", "choice_locale": "語言地區", "choice_day": "按日",
        "choice_week": "按 ISO 週", "choice_month": "按月", "choice_quarter": "按季",
        "failed_today": "今日失敗或退信", "as_of": "資料截至 UTC {when}。",
        "sending_now": "正在寄送", "refresh": "重新整理頁面",
        "deliverability": "送達情況（最近 {days} 天）", "rate_error": "錯誤", "rate_warn": "警告",
        "bounce_rate": "退信率", "complaint_rate": "投訴率",
        "rate_figures": "已寄送 {sent} 封中 {count} 封 = {rate}。",
        "rate_lines": "{warn} 起警告，{error} 起為錯誤。",
        "rates_fine": "一切正常：退信和投訴皆低於警告線（依 edm doctor 的標準）。",
        "rate": "比率", "warn_from": "警告線", "error_from": "錯誤線",
        "planned_classes": "待寄送活動的受眾（依價值層級與生命週期階段）",
        "planned_hint": "各活動的受眾規則今天選出的客戶，尚未計入規劃時的攔截"
                        "（同意、退訂名單、聯絡頻率、休眠、時區）：最多這麼多。預覽中有確切數字。",
        "manager_alerts": "客戶經理的提醒（最近 {days} 天）",
        "my_alerts": "您的客戶有 {count} 則提醒。",
        "see_customers": "查看", "alerts_count": "提醒", "no_alerts": "沒有提醒。",
        "skip": "跳到內容", "paused_now": "目前暫停的寄送：{count} 項。", "see_paused": "查看原因",
    },
}


def console_language(cookie: str | None, accept_language: str | None) -> Language:
    """The language chosen with the switch (its cookie), else the browser's, else en."""
    chosen = cookie if cookie in LANGUAGES else None
    return page_language(chosen, accept_language)


def translator(language: Language) -> Texts:
    return Texts(TEXTS[language])


class Texts:
    """`t("key", name=value)` in templates: the text in the page's language, formatted."""

    def __init__(self, table: Mapping[str, str]) -> None:
        self._table = table

    def __call__(self, key: str, **values: object) -> str:
        text = self._table[key]
        return text.format(**values) if values else text
