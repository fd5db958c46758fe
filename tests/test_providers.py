"""provider_of: the receiving provider of an address or domain, by exact domain, any letter case."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edm.providers import NAMES, OTHER, PROVIDERS, domain_of, provider_of

KNOWN = [(domain, name) for name, domains in PROVIDERS.items() for domain in domains]


@pytest.mark.parametrize(("given_text", "provider"), [
    ("ann@gmail.com", "gmail"), ("Ann@GoogleMail.COM", "gmail"), ("gmail.com", "gmail"),
    ("x@outlook.com", "microsoft"), ("x@hotmail.com", "microsoft"), ("x@live.com", "microsoft"),
    ("x@msn.com", "microsoft"), ("x@yahoo.com", "yahoo"), ("x@ymail.com", "yahoo"), ("x@aol.com", "yahoo"),
    ("x@qq.com", "qq"), ("x@foxmail.com", "qq"), ("x@163.com", "netease"), ("x@126.com", "netease"),
    ("x@yeah.net", "netease"), ("x@example.com", OTHER), ("x@mail.gmail.com", OTHER),
    ("x@gmail.com.evil.example", OTHER), ("x@notgmail.com", OTHER), ("x@yahoo.co.jp", OTHER),
    (" x@gmail.com. ", "gmail"), ('"a@b"@qq.com', "qq"), ("", OTHER), ("@", OTHER),
])
def test_provider_table(given_text: str, provider: str) -> None:
    assert provider_of(given_text) == provider


def test_every_domain_is_lower_case_and_listed_once() -> None:
    domains = [domain for domain, _ in KNOWN]
    assert all(domain == domain_of(domain) for domain in domains)
    assert len(domains) == len(set(domains))
    assert NAMES == ("gmail", "microsoft", "yahoo", "apple", "qq", "netease", "sina", "sohu", "aliyun", "139",
                     OTHER)


local_parts = st.text(st.characters(codec="ascii", exclude_characters="\r\n"), max_size=20)


@settings(derandomize=True, max_examples=200)
@given(local=local_parts, known=st.sampled_from(KNOWN),
       flips=st.lists(st.booleans(), min_size=24, max_size=24))
def test_known_domains_match_in_any_letter_case_after_any_local_part(
    local: str, known: tuple[str, str], flips: list[bool]
) -> None:
    domain, name = known
    cased = "".join(c.upper() if flip else c for c, flip in zip(domain, flips[: len(domain)], strict=True))
    assert provider_of(f"{local}@{cased}") == name
    assert provider_of(cased) == name


@settings(derandomize=True, max_examples=200)
@given(label=st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True), known=st.sampled_from(KNOWN))
def test_subdomains_and_lookalikes_are_other(label: str, known: tuple[str, str]) -> None:
    domain, _ = known
    for lookalike in (f"{label}.{domain}", f"{domain}.{label}", f"{label}{domain}"):
        if lookalike not in dict(KNOWN):  # vip.qq.com is itself listed
            assert provider_of(f"x@{lookalike}") == OTHER


@settings(derandomize=True, max_examples=200)
@given(st.text(max_size=40))
def test_any_text_gets_one_of_the_names(text: str) -> None:
    assert provider_of(text) in NAMES
