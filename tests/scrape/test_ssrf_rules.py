"""The SSRF rules on their own (no browser): every way of writing a non-public address is refused with a
reason, public addresses pass, names are judged by every address they resolve to, once per job."""

from __future__ import annotations

import ipaddress
import logging

import pytest

from browser import ssrf
from browser.errors import Refused, ResolveError

NO_ALLOW = ssrf.Policy()

LOOPBACK_SPELLINGS = [
    "http://127.0.0.1/",
    "http://2130706433/",  # decimal
    "http://0177.0.0.1/",  # octal
    "http://0177.0.0.01/",
    "http://0x7f.1/",  # hex, two parts
    "http://0x7f000001/",  # hex, one part
    "http://0x7F.0x0.0x0.0x1/",
    "http://127.1/",  # short form
    "http://127.0.1/",
    "http://127.0.0.1./",  # trailing dot
    "http://localhost/",
    "http://localhost./",
    "http://LOCALHOST:8000/",
    "http://app.localhost/",
    "http://[::1]/",  # bracketed IPv6
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped, dotted
    "http://[::ffff:7f00:1]/",  # IPv4-mapped, hex
    "http://[64:ff9b::127.0.0.1]/",  # NAT64
    "http://[2002:7f00:1::]/",  # 6to4
    "http://%31%32%37.0.0.1/",  # percent-encoded
    "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/",  # full-width digits (IDNA maps them to ASCII)
    "http://user:pw@127.0.0.1/",
    "http://127.0.0.2:8080/",
    "http://127.255.255.254/",
]

OTHER_NON_PUBLIC = {
    "http://10.0.0.1/": "a private address",
    "http://172.16.5.4/": "a private address",
    "http://172.31.255.255/": "a private address",
    "http://192.168.1.1/": "a private address",
    "http://0xa9fea9fe/": "link-local",  # 169.254.169.254, the cloud metadata service
    "http://169.254.169.254/latest/meta-data/": "link-local",
    "http://100.64.0.1/": "carrier-grade NAT",
    "http://100.127.255.255/": "carrier-grade NAT",
    "http://224.0.0.1/": "multicast",
    "http://0.0.0.0/": "unspecified",
    "http://0/": "unspecified",
    "http://255.255.255.255/": "broadcast",
    "http://240.0.0.1/": "reserved",
    "http://192.0.2.1/": "documentation",
    "http://[::]/": "unspecified",
    "http://[fc00::1]/": "unique-local",
    "http://[fd12:3456::1]/": "unique-local",
    "http://[fe80::1]/": "link-local",
    "http://[fe80::1%25eth0]/": "link-local",
    "http://[ff02::1]/": "multicast",
    "http://[::ffff:10.1.2.3]/": "a private address",
    "http://[::ffff:169.254.169.254]/": "link-local",
    "http://[64:ff9b::a9fe:a9fe]/": "link-local",
    "http://[2001:db8::1]/": "documentation",
}


@pytest.fixture
def no_dns(monkeypatch):
    """IP literals and loopback names must be judged without asking DNS."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"getaddrinfo was called for {args[0]!r}")

    monkeypatch.setattr("socket.getaddrinfo", refuse)


@pytest.mark.parametrize("url", LOOPBACK_SPELLINGS)
def test_every_spelling_of_loopback_is_refused(url, no_dns):
    with pytest.raises(Refused) as caught:
        ssrf.check_url(url, ssrf.Resolver(NO_ALLOW))
    assert "loopback" in str(caught.value)
    assert "BROWSER_ALLOWED_NETWORKS" in str(caught.value)


@pytest.mark.parametrize(("url", "kind"), OTHER_NON_PUBLIC.items())
def test_private_link_local_and_reserved_addresses_are_refused(url, kind, no_dns):
    with pytest.raises(Refused, match=kind):
        ssrf.check_url(url, ssrf.Resolver(NO_ALLOW))


def test_refusal_message_names_the_address_and_the_way_out(no_dns):
    with pytest.raises(Refused) as caught:
        ssrf.check_url("http://127.0.0.1/admin", ssrf.Resolver(NO_ALLOW))
    assert str(caught.value) == (
        "127.0.0.1 is a loopback address; only public addresses may be fetched "
        "(an admin can allow a network with BROWSER_ALLOWED_NETWORKS)"
    )
    with pytest.raises(Refused, match=r"^0x7f\.1 \(127\.0\.0\.1\) is a loopback address"):
        ssrf.check_url("http://0x7f.1/", ssrf.Resolver(NO_ALLOW))


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("192.168.257", "192.168.1.1"),
        ("0x", "0.0.0.0"),
        ("127.0.0.1.", "127.0.0.1"),
        ("93.184.216.34", "93.184.216.34"),
        ("example.com", None),
        ("1.2.3.example", None),
        ("0x7f.example", None),
    ],
)
def test_numeric_hosts_are_parsed_like_inet_aton(host, address):
    parsed = ssrf.parse_ipv4(host)
    assert (str(parsed) if parsed else None) == address


@pytest.mark.parametrize("url", ["http://08.0.0.1/", "http://1.2.3.4.5/", "http://256.0.0.1/", "http://0x1g.1/"])
def test_hosts_that_end_in_a_number_but_are_no_address_are_refused(url, no_dns):
    with pytest.raises(Refused, match="not a valid"):
        ssrf.check_url(url, ssrf.Resolver(NO_ALLOW))


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("file:///etc/passwd", "file"),
        ("ftp://ftp.example.com/x", "ftp"),
        ("javascript:alert(1)", "javascript"),
        ("data:text/html,<h1>hi</h1>", "data"),
        ("chrome://crash", "chrome"),
        ("gopher://127.0.0.1:6379/_INFO", "gopher"),
    ],
)
def test_only_http_and_https_urls_are_allowed(url, scheme, no_dns):
    with pytest.raises(Refused) as caught:
        ssrf.check_url(url, ssrf.Resolver(NO_ALLOW))
    assert str(caught.value) == f"{scheme}: URLs cannot be fetched; only http:// and https:// URLs are allowed"


@pytest.mark.parametrize("url", ["example.com", "//example.com/", "http://", "http:\\\\127.0.0.1\\", "http://a b/"])
def test_malformed_urls_are_refused(url, no_dns):
    with pytest.raises(Refused):
        ssrf.check_url(url, ssrf.Resolver(NO_ALLOW))


def test_ports_other_protocols_use_are_refused(no_dns):
    with pytest.raises(Refused, match="port 25 is blocked"):
        ssrf.check_url("http://93.184.216.34:25/", ssrf.Resolver(NO_ALLOW))


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/",
        "https://93.184.216.34:8443/path?q=1",
        "http://[2606:2800:220:1:248:1893:25c8:1946]/",
        "http://[::ffff:93.184.216.34]/",
        "http://1572395042/",  # 93.184.216.34 in decimal: an odd spelling of a public address is fine
    ],
)
def test_public_addresses_are_accepted(url, no_dns):
    target = ssrf.check_url(url, ssrf.Resolver(NO_ALLOW))
    assert all(ipaddress.ip_address(a).is_global for a in target.addresses)


def test_public_names_are_accepted(fake_dns):
    fake_dns.table["example.com"] = ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]
    target = ssrf.check_url("https://Example.COM./page", ssrf.Resolver(NO_ALLOW))
    assert [str(a) for a in target.addresses] == ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]


def test_a_name_resolving_to_loopback_is_refused(fake_dns):
    fake_dns.table["intranet.example"] = ["127.0.0.1"]
    with pytest.raises(Refused) as caught:
        ssrf.check_url("http://intranet.example/", ssrf.Resolver(NO_ALLOW))
    assert str(caught.value).startswith("intranet.example resolves to 127.0.0.1, a loopback address;")


def test_a_name_is_refused_if_any_of_its_addresses_is_not_public(fake_dns):
    fake_dns.table["mixed.example"] = ["93.184.216.34", "10.0.0.7"]
    with pytest.raises(Refused, match=r"resolves to 10\.0\.0\.7, a private address"):
        ssrf.check_url("http://mixed.example/", ssrf.Resolver(NO_ALLOW))


def test_a_name_resolving_to_a_mapped_metadata_address_is_refused(fake_dns):
    fake_dns.table["sneaky.example"] = ["::ffff:169.254.169.254"]
    with pytest.raises(Refused, match=r"which stands for 169\.254\.169\.254, a link-local address"):
        ssrf.check_url("http://sneaky.example/", ssrf.Resolver(NO_ALLOW))


def test_a_name_is_resolved_once_per_job_and_later_answers_are_never_used(fake_dns):
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    fake_dns.table["rebind.example"] = lambda: next(answers)
    resolver = ssrf.Resolver(NO_ALLOW)
    first = ssrf.check_url("http://rebind.example/a", resolver)
    second = ssrf.check_url("http://rebind.example/b", resolver)
    assert [str(a) for a in first.addresses] == [str(a) for a in second.addresses] == ["93.184.216.34"]
    assert fake_dns.calls == ["rebind.example"]
    # A new job asks again, and is judged on the new answer.
    with pytest.raises(Refused, match="loopback"):
        ssrf.check_url("http://rebind.example/", ssrf.Resolver(NO_ALLOW))


def test_unknown_names_are_a_resolve_error_not_a_refusal(fake_dns, monkeypatch):
    monkeypatch.setattr(ssrf, "_probe", None)
    fake_dns.table[ssrf.DNS_PROBE_HOST] = ["93.184.216.34"]  # other names resolve: the address is the problem
    with pytest.raises(
        ResolveError, match=r"no-such-host\.invalid could not be resolved: no such host\. Check the spelling"
    ):
        ssrf.check_url("http://no-such-host.invalid/", ssrf.Resolver(NO_ALLOW))


def test_on_a_server_without_internet_a_lookup_failure_does_not_blame_the_address(monkeypatch):
    # This test machine has no internet: nothing resolves, example.com neither (the real resolver, no fake).
    monkeypatch.setattr(ssrf, "_probe", None)
    with pytest.raises(ResolveError) as failed:
        ssrf.check_url("http://www.python.org/", ssrf.Resolver(NO_ALLOW))
    message = str(failed.value)
    assert "this server seems to have no internet access" in message or "DNS server did not answer" in message
    assert "the address may" in message and "Errno" not in message


def test_the_allow_list_opens_only_the_networks_it_names(no_dns):
    policy = ssrf.Policy(allowed_networks=ssrf.parse_networks(["127.0.0.1/32", "10.1.0.0/16"]))
    assert ssrf.check_url("http://127.0.0.1:8000/", ssrf.Resolver(policy)).addresses
    assert ssrf.check_url("http://10.1.2.3/", ssrf.Resolver(policy)).addresses
    assert ssrf.check_url("http://[::ffff:127.0.0.1]/", ssrf.Resolver(policy)).addresses  # same address
    for url in ("http://127.0.0.2/", "http://10.2.0.1/", "http://169.254.169.254/", "http://[::1]/"):
        with pytest.raises(Refused):
            ssrf.check_url(url, ssrf.Resolver(policy))


def test_a_bad_allow_list_entry_is_a_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.BROWSER_ALLOWED_NETWORKS = ["10.0.0.0/8", "intranet"]
    with pytest.raises(ImproperlyConfigured, match="'intranet' is not a network"):
        ssrf.Policy.from_settings()


def test_refusals_are_logged_with_the_url_and_the_reason(caplog, no_dns):
    with caplog.at_level(logging.WARNING, logger="browser.ssrf"), pytest.raises(Refused):
        ssrf.check_url("http://169.254.169.254/latest/meta-data/", ssrf.Resolver(NO_ALLOW))
    [record] = [r for r in caplog.records if r.name == "browser.ssrf"]
    assert record.levelno == logging.WARNING
    assert "http://169.254.169.254/latest/meta-data/" in record.getMessage()
    assert "link-local" in record.getMessage()
