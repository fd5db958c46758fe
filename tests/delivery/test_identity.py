"""The sender's identity (settings `brand:`) in the mail people receive, through the CLI: `edm init`
writes the section, `edm campaign validate` warns while a marketing mail would go out without a
postal address, and a real send (`edm campaign run` to aiosmtpd) carries company, signature,
reason, address and links in the customer's language, each message under its own MIME boundary."""

from __future__ import annotations

from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import yaml
from click.testing import CliRunner

from edm.cli import main
from tests.conftest import SECRET_KEY, SmtpServer

BRAND = {
    "company": {"en": "Lumen Paper Co.", "zh-Hans": "明光纸业", "zh-Hant": "明光紙業"},
    "postal_address": {"en": "88 Harbour Road, Wan Chai, Hong Kong", "zh-Hans": "上海市浦东新区世纪大道88号"},
    "website": "https://www.lumen-paper.example",
    "phone": "+852 2100 8800",
    "logo_url": "https://www.lumen-paper.example/logo.png",
}
CUSTOMERS = """\
external_id,name,kind,contact_name,email,locale,timezone,industry,birthday,founded_on
CN,王芳,person,,wang@example.cn,zh-CN,Asia/Shanghai,,,
GB,Ann Lee,person,,ann@example.co.uk,en-GB,Europe/London,,,
"""


def _init(folder: Path) -> Path:
    result = CliRunner().invoke(main, ["init", str(folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return folder / "edm.yaml"


def _set(config: Path, **sections: object) -> None:
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    settings.update(sections)
    config.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")


def test_init_writes_the_brand_section_with_placeholders_and_comments(tmp_path: Path) -> None:
    text = _init(tmp_path).read_text(encoding="utf-8")
    brand = yaml.safe_load(text)["brand"]
    assert brand["company"] == {"en": "Your Company", "zh-Hans": "您的公司", "zh-Hant": "您的公司"}
    assert set(brand) >= {"postal_address", "website", "phone", "logo_url", "signature", "reason", "footer"}
    assert "CAN-SPAM" in text and "{company} 客户服务团队" in text  # the comments say what and why


def test_validate_warns_about_marketing_mail_without_a_postal_address(tmp_path: Path) -> None:
    config = _init(tmp_path)
    campaigns = tmp_path / "campaigns"
    marketing, transactional = campaigns / "win_back.yaml", campaigns / "spring_festival_closure.yaml"
    result = CliRunner().invoke(main, ["campaign", "validate", str(marketing), str(transactional),
                                       "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 0, result.output  # a warning, not an error
    warnings = [line for line in result.output.splitlines() if "warning" in line]
    assert any("win_back.yaml" in w and "postal address" in w and "CAN-SPAM" in w for w in warnings), warnings
    assert any("win_back.yaml" in w and "placeholder 'Your Company'" in w for w in warnings), warnings
    assert not any("spring_festival_closure" in w for w in warnings)  # transactional mail: no such rule
    assert f"{marketing}: ok (win_back)" in result.stdout

    _set(config, brand=BRAND)
    again = CliRunner().invoke(main, ["campaign", "validate", str(marketing), "--config", str(config)],
                               catch_exceptions=False)
    assert again.exit_code == 0 and "warning" not in again.output, again.output


def _body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    return str(part.get_content())


def test_a_chinese_customer_gets_mail_signed_in_chinese_by_the_company(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = _init(tmp_path)
    _set(config, brand=BRAND, sender={"from_address": "Lumen Paper <care@lumen-paper.example>"})
    today = date.today()
    orders = ["external_id,customer_external_id,ordered_at,amount,product_line"]
    for customer in ("CN", "GB"):
        for days_ago in range(900, 399, -30):
            day = today - timedelta(days=days_ago)
            orders.append(f"O{customer}{days_ago},{customer},{day},5000.00,paper")
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (tmp_path / "orders.csv").write_text("\n".join(orders) + "\n", encoding="utf-8")
    env = {"EDM_CONFIG": str(config), "EDM_SECRET_KEY": SECRET_KEY, "EDM_SMTP__HOST": smtp_server.host,
           "EDM_SMTP__PORT": str(smtp_server.port), "EDM_TRACKING__BASE_URL": "https://t.lumen-paper.example"}
    for args in (["import", "customers", str(tmp_path / "customers.csv")],
                 ["import", "orders", str(tmp_path / "orders.csv")], ["campaign", "run", "win_back"]):
        result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    [chinese] = smtp_server.handler.to("wang@example.cn")
    [english] = smtp_server.handler.to("ann@example.co.uk")

    html, text = _body(chinese, "html"), _body(chinese, "plain")
    for part in (html, text):
        assert "明光纸业 客户服务团队" in part  # the signature, in Chinese
        assert "上海市浦东新区世纪大道88号" in part and "是因为您" in part  # address, why they get it
        assert "此邮件发送至 wang@example.cn" in part
        assert "Customer Care" not in part and "Lumen Paper" not in part
    assert 'alt="明光纸业"' in html and 'width="160" height="40"' in html  # the logo
    unsubscribe = str(chinese["List-Unsubscribe"]).strip("<>")
    assert f"邮件偏好设置: {unsubscribe}" in text and f"退订: {unsubscribe}" in text
    assert f'<a href="{unsubscribe}"' in html and ">邮件偏好设置</a>" in html and ">退订</a>" in html

    english_text = _body(english, "plain")
    assert "Lumen Paper Co. Customer Service" in english_text and "88 Harbour Road" in english_text
    assert "明光" not in english_text
    assert chinese.get_boundary() != english.get_boundary()  # no installation-wide fingerprint
