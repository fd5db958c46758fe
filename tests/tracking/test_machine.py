"""Who opened the mail: a person, or a privacy proxy, prefetcher or scanner (pure rules)."""

from __future__ import annotations

import pytest

from edm.config import default_settings
from edm.errors import ConfigError
from edm.tracking import MachineRules, is_machine, machine_reason

IPHONE_MAIL = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
               "(KHTML, like Gecko) Mobile/15E148")
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)"
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 "
          "Safari/537.36")
HOUR = 3600.0


@pytest.mark.parametrize("agent", [IPHONE_MAIL, OUTLOOK, CHROME, "Thunderbird/128.3", None, ""])
def test_people_reading_a_while_after_sending_are_people(agent: str | None) -> None:
    assert machine_reason(agent, "203.0.113.7", HOUR) is None
    assert not is_machine(agent, None, None)


@pytest.mark.parametrize(
    ("agent", "reason"),
    [
        ("Mozilla/5.0", "apple_privacy_proxy"),
        (" Mozilla/5.0 ", "apple_privacy_proxy"),
        ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
         "google_image_proxy"),
        ("YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", "yahoo_image_proxy"),
        ("Mozilla/5.0 (compatible; Proofpoint URL Defense)", "security_scanner"),
        ("Mimecast-Url-Protect/1.0", "security_scanner"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "crawler"),
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "link_preview"),
        ("facebookexternalhit/1.1", "link_preview"),
    ],
)
def test_proxies_and_scanners_are_known_by_their_agent(agent: str, reason: str) -> None:
    assert machine_reason(agent, "198.51.100.1", HOUR) == reason


@pytest.mark.parametrize("ip", ["17.58.101.9", "17.0.0.1", "::ffff:17.1.2.3"])
def test_opens_from_apples_network_are_its_proxy(ip: str) -> None:
    assert machine_reason(IPHONE_MAIL, ip, HOUR) == "proxy_network"


@pytest.mark.parametrize("ip", ["18.0.0.1", "16.255.255.255", "2001:db8::1", "not-an-ip", ""])
def test_other_addresses_say_nothing(ip: str) -> None:
    assert machine_reason(IPHONE_MAIL, ip, HOUR) is None


def test_an_open_or_click_within_seconds_of_sending_is_a_scanner() -> None:
    assert machine_reason(CHROME, None, 0.0) == "too_soon_after_sending"
    assert machine_reason(CHROME, None, 9.9) == "too_soon_after_sending"
    assert machine_reason(CHROME, None, -2.0) == "too_soon_after_sending"  # clocks a little apart
    assert machine_reason(CHROME, None, 10.0) is None
    assert machine_reason(CHROME, None, None) is None  # send time unknown: timing says nothing
    slow = MachineRules.build(scanner_seconds=60)
    assert machine_reason(CHROME, None, 30.0, slow) == "too_soon_after_sending"


def test_deployments_add_their_own_proxies_to_the_built_in_ones() -> None:
    rules = MachineRules.build(extra_networks=["192.0.2.0/24", "2001:db8::/32"],
                               extra_agents=["AcmeGateway"])
    assert machine_reason(IPHONE_MAIL, "192.0.2.44", HOUR, rules) == "proxy_network"
    assert machine_reason(IPHONE_MAIL, "2001:db8::9", HOUR, rules) == "proxy_network"
    assert machine_reason(IPHONE_MAIL, "17.1.1.1", HOUR, rules) == "proxy_network"
    assert machine_reason("acmegateway/2 scanner", None, HOUR, rules) == "configured_agent"
    assert machine_reason("Mozilla/5.0", None, HOUR, rules) == "apple_privacy_proxy"
    with pytest.raises(ValueError):
        MachineRules.build(extra_networks=["not/a/network"])


def test_the_lists_come_from_settings_and_a_bad_network_says_which_key() -> None:
    settings = default_settings(environ={
        "EDM_TRACKING__PROXY_NETWORKS": "[192.0.2.0/24]",
        "EDM_TRACKING__MACHINE_AGENTS": "[AcmeGateway]",
        "EDM_TRACKING__SCANNER_SECONDS": "30",
    })
    tracking = settings.tracking
    rules = MachineRules.build(extra_networks=tracking.proxy_networks, extra_agents=tracking.machine_agents,
                               scanner_seconds=tracking.scanner_seconds)
    assert machine_reason(IPHONE_MAIL, "192.0.2.1", HOUR, rules) == "proxy_network"
    assert machine_reason("AcmeGateway", None, HOUR, rules) == "configured_agent"
    assert machine_reason(CHROME, None, 20.0, rules) == "too_soon_after_sending"
    with pytest.raises(ConfigError, match=r"tracking\.proxy_networks"):
        default_settings(environ={"EDM_TRACKING__PROXY_NETWORKS": "[300.1.2.0/24]"})
