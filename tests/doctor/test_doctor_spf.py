"""SPF, DMARC and name-server parsing, and SPF trees walked over real DNS (the test server on loopback)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edm.doctor.dmarc import aligned, organizational_domain
from edm.doctor.resolver import DnsResolver, parse_nameserver
from edm.doctor.spf import SpfResult, SpfSyntaxError, check_spf, parse_spf
from tests.doctor.dns_zone import DnsServer, dns_server


@pytest.fixture
def server() -> Iterator[DnsServer]:
    with dns_server() as found:
        yield found


def _check(server: DnsServer, domain: str, *ips: str) -> SpfResult:
    return check_spf(domain, DnsResolver([server.address], timeout=2), list(ips))


def test_lookups_are_counted_over_the_whole_tree(server: DnsServer) -> None:
    server.records = {
        ("a.test", "TXT"): ["v=spf1 include:b.test mx a:host.a.test -all"],
        ("b.test", "TXT"): ["v=spf1 ip4:192.0.2.0/25 include:c.test redirect=d.test"],
        ("c.test", "TXT"): ["v=spf1 exists:nothing.c.test ptr -all"],
        ("d.test", "TXT"): ["v=spf1 ip4:198.51.100.1 -all"],
        ("a.test", "MX"): ["10 mx.a.test."],
        ("mx.a.test", "A"): ["203.0.113.9"],
        ("host.a.test", "A"): ["203.0.113.10"],
    }
    result = _check(server, "a.test", "192.0.2.7", "203.0.113.9", "203.0.113.10", "198.51.100.1",
                    "192.0.2.200")
    # include b, mx, a | include c, redirect d | exists, ptr  = 7
    assert result.lookups == 7
    assert result.voids == 1  # exists:nothing.c.test
    assert result.results == {
        "192.0.2.7": "+", "203.0.113.9": "+", "203.0.113.10": "+",
        "198.51.100.1": "+",  # through b's redirect: b has no all
        "192.0.2.200": "-",
    }


def test_mx_and_a_take_prefix_lengths(server: DnsServer) -> None:
    server.records = {
        ("p.test", "TXT"): ["v=spf1 a:host.p.test/24 mx//64 ~all"],
        ("host.p.test", "A"): ["192.0.2.1"],
        ("p.test", "MX"): ["5 mx.p.test."],
        ("mx.p.test", "AAAA"): ["2001:db8::1"],
    }
    result = _check(server, "p.test", "192.0.2.254", "2001:db8::ffff", "192.0.3.1")
    assert result.results == {"192.0.2.254": "+", "2001:db8::ffff": "+", "192.0.3.1": "~"}


def test_an_include_loop_stops(server: DnsServer) -> None:
    server.records = {("l.test", "TXT"): ["v=spf1 include:l.test -all"]}
    result = _check(server, "l.test", "192.0.2.1")
    assert result.lookups > 10


def test_a_macro_is_counted_and_matches_nothing(server: DnsServer) -> None:
    server.records = {("m.test", "TXT"): ["v=spf1 exists:%{i}._spf.m.test ?all"]}
    result = _check(server, "m.test", "192.0.2.1")
    assert result.lookups == 1 and result.uncertain
    assert result.results == {"192.0.2.1": "?"}


@pytest.mark.parametrize("record, problem", [
    ("v=spf1 ip4:300.1.1.1 -all", "not an ip4"),
    ("v=spf1 ip6:192.0.2.1 -all", "IPv6 network is expected"),
    ("v=spf1 include -all", "include needs a domain"),
    ("v=spf1 a/40 -all", "out of range"),
    ("v=spf1 allow -all", "unknown mechanism"),
    ("v=spf1 -all:x", "all takes no value"),
    ("v=spf1 redirect=", "needs a domain"),
])
def test_bad_terms_are_named(record: str, problem: str) -> None:
    with pytest.raises(SpfSyntaxError, match=problem):
        parse_spf(record)


_TERMS = st.sampled_from(["a", "mx", "ptr", "all", "ip4:192.0.2.0/24", "ip6:2001:db8::/32", "a:x.test/24",
                          "mx:y.test//64", "include:z.test", "exists:%{i}.e.test", "redirect=r.test",
                          "exp=x.test"])


@settings(derandomize=True, max_examples=200)
@given(st.lists(st.tuples(st.sampled_from(["", "+", "-", "~", "?"]), _TERMS), max_size=12))
def test_well_formed_records_parse_term_by_term(terms: list[tuple[str, str]]) -> None:
    words = [term if "=" in term else qualifier + term for qualifier, term in terms]
    parsed = parse_spf(" ".join(["v=spf1", *words]))
    names = [word.lstrip("+-~?").split(":")[0].split("/")[0].split("=")[0] for word in words]
    assert [term.name for term in parsed] == names


@settings(derandomize=True, max_examples=300)
@given(st.text(alphabet=st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=60))
def test_any_text_parses_or_is_a_syntax_error(tail: str) -> None:
    with contextlib.suppress(SpfSyntaxError):
        parse_spf("v=spf1 " + tail)


@pytest.mark.parametrize("text, expected", [
    ("192.0.2.53", ("192.0.2.53", 53)),
    ("127.0.0.1:5353", ("127.0.0.1", 5353)),
    ("2001:db8::53", ("2001:db8::53", 53)),
    ("[2001:db8::53]:5353", ("2001:db8::53", 5353)),
])
def test_name_servers_are_ip_and_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_nameserver(text) == expected


@pytest.mark.parametrize("text", ["dns.test", "127.0.0.1:0", "127.0.0.1:x", "[2001:db8::53]x"])
def test_bad_name_servers_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="nameserver"):
        parse_nameserver(text)


def test_organizational_domains_come_from_the_public_suffix_list() -> None:
    assert organizational_domain("news.shop.example.co.uk") == "example.co.uk"
    assert organizational_domain("mail.example.com.cn") == "example.com.cn"
    assert organizational_domain("bounce.acme.test") == "acme.test"
    assert aligned("bounce.acme.test", "acme.test")
    assert not aligned("bounce.acme.test", "acme.test", "s")
    assert not aligned("a.co.uk", "b.co.uk")  # a public suffix is no shared organization
