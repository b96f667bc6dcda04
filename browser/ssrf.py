"""Which URLs the browser may fetch: only http(s) to public addresses (SSRF protection).

The checks here are pure functions plus a per-job `Resolver`. They are enforced by the job's filtering
proxy (`browser.proxy`) for every connection Chromium opens, and by `check_url` up front so that a refused
top-level URL fails before a browser is even started. A host is judged by the address we actually connect
to: numeric hosts are parsed the way browsers and inet_aton do (`0x7f.1`, `2130706433`, `0177.0.0.1`), names
are resolved once per job and every resolved address must be public; the proxy then connects to exactly
those addresses, so a DNS answer that changes later (rebinding) is never used.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from browser.errors import Refused, ResolveError

logger = logging.getLogger("browser.ssrf")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

HINT = "only public addresses may be fetched (an admin can allow a network with BROWSER_ALLOWED_NETWORKS)"
SCHEMES = ("http", "https")

# The Fetch standard's "bad ports": browsers refuse them because other protocols (SMTP, IRC, …) listen there.
BAD_PORTS = frozenset(
    {
        0,
        1,
        7,
        9,
        11,
        13,
        15,
        17,
        19,
        20,
        21,
        22,
        23,
        25,
        37,
        42,
        43,
        53,
        69,
        77,
        79,
        87,
        95,
        101,
        102,
        103,
        104,
        109,
        110,
        111,
        113,
        115,
        117,
        119,
        123,
        135,
        137,
        139,
        143,
        161,
        179,
        389,
        427,
        465,
        512,
        513,
        514,
        515,
        526,
        530,
        531,
        532,
        540,
        548,
        554,
        556,
        563,
        587,
        601,
        636,
        989,
        990,
        993,
        995,
        1719,
        1720,
        1723,
        2049,
        3659,
        4045,
        4190,
        5060,
        5061,
        6000,
        6566,
        6665,
        6666,
        6667,
        6668,
        6669,
        6679,
        6697,
        10080,
    }
)

LOOPBACK = "a loopback address"
PRIVATE = "a private address"
RESERVED = "a reserved address"
_V4_KINDS: list[tuple[IPNetwork, str]] = [
    (ipaddress.ip_network(net), kind)
    for net, kind in [
        ("0.0.0.0/8", "an unspecified (this-host) address"),
        ("127.0.0.0/8", LOOPBACK),
        ("10.0.0.0/8", PRIVATE),
        ("172.16.0.0/12", PRIVATE),
        ("192.168.0.0/16", PRIVATE),
        ("169.254.0.0/16", "a link-local address (where cloud metadata services answer)"),
        ("100.64.0.0/10", "a carrier-grade NAT (shared) address"),
        ("224.0.0.0/4", "a multicast address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", RESERVED),
        ("192.0.0.0/24", RESERVED),
        ("192.0.2.0/24", "a documentation address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("198.18.0.0/15", "a benchmarking address"),
    ]
]
_V6_KINDS: list[tuple[IPNetwork, str]] = [
    (ipaddress.ip_network(net), kind)
    for net, kind in [
        ("::/128", "an unspecified address"),
        ("::1/128", LOOPBACK),
        ("::/96", "an IPv4-compatible address (deprecated)"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("2001::/32", "a Teredo tunnel address"),
        ("fc00::/7", "a unique-local (private) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
        ("100::/64", "a discard-only address"),
        ("2001:db8::/32", "a documentation address"),
    ]
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


@dataclass(frozen=True)
class Policy:
    """The networks an admin allowed despite being non-public (BROWSER_ALLOWED_NETWORKS)."""

    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls) -> Policy:
        return cls(allowed_networks=parse_networks(getattr(settings, "BROWSER_ALLOWED_NETWORKS", [])))

    def allows(self, ip: IPAddress) -> bool:
        candidates = [ip, *([v4] if (v4 := embedded_ipv4(ip)) else [])]
        return any(c.version == net.version and c in net for c in candidates for net in self.allowed_networks)


def parse_networks(entries: list[str] | tuple[str, ...]) -> tuple[IPNetwork, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"BROWSER_ALLOWED_NETWORKS entry {entry!r} is not a network: use CIDR notation such as 10.0.0.0/8"
            ) from None
    return tuple(networks)


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16)."""
    if ip.version == 4:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def address_kind(ip: IPAddress) -> str | None:
    """Why `ip` is not public ("a loopback address", …), or None when it is a public address."""
    table = _V4_KINDS if ip.version == 4 else _V6_KINDS
    for network, kind in table:
        if ip in network:
            return kind
    if not ip.is_global:
        return "not a public address"
    return None


def address_problem(ip: IPAddress, policy: Policy) -> tuple[str, ipaddress.IPv4Address | None] | None:
    """(kind, embedded IPv4 or None) when `ip` must not be connected to, or None when it is allowed."""
    if policy.allows(ip):
        return None
    v4 = embedded_ipv4(ip)
    if v4 is not None:
        kind = address_kind(v4)
        return (kind, v4) if kind else None  # else the mapped/NAT64/6to4 form of a public IPv4 address
    kind = address_kind(ip)
    return (kind, None) if kind else None


def address_refusal(ip: IPAddress, policy: Policy, *, shown: str | None = None) -> str | None:
    """The reason to refuse a connection to the IP literal `ip` (a sentence), or None when it is allowed.
    `shown` is the host as written, quoted beside the address when it differs (`0x7f.1 (127.0.0.1)`)."""
    problem = address_problem(ip, policy)
    if problem is None:
        return None
    kind, v4 = problem
    label = f"{shown} ({ip})" if shown and shown != str(ip) else str(ip)
    if v4 is not None:
        return f"{label} stands for {v4}, {kind}; {HINT}"
    return f"{label} is {kind}; {HINT}"


_NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0[xX][0-9a-fA-F]*)$")


class InvalidHost(ValueError):
    pass


def _ipv4_number(label: str) -> int:
    if not label:
        raise InvalidHost("empty label")
    if label[:2].lower() == "0x":
        digits = label[2:]
        if digits and not re.fullmatch(r"[0-9a-fA-F]+", digits):
            raise InvalidHost(label)
        return int(digits or "0", 16)
    if not label.isdigit() or not label.isascii():
        raise InvalidHost(label)
    if len(label) > 1 and label[0] == "0":
        if not re.fullmatch(r"[0-7]+", label):
            raise InvalidHost(label)
        return int(label, 8)
    return int(label)


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address written any way inet_aton and browsers accept (decimal, octal, hex, 1-4 parts), or None
    for a name. A host whose last label is a number but that is not a valid address raises InvalidHost, as
    browsers refuse such URLs instead of resolving them."""
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()  # one trailing dot, as in "127.0.0.1."
    if not _NUMERIC_LABEL.match(labels[-1]):
        return None
    if len(labels) > 4:
        raise InvalidHost(host)
    numbers = [_ipv4_number(label) for label in labels]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise InvalidHost(host)
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def canonical_host(raw: str) -> str:
    """Lower-case, percent-decoded, IDNA-encoded host without brackets; numeric forms stay as written."""
    host = unquote(raw).strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host.isascii():
        try:
            host = unicodedata.normalize("NFKC", host).encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidHost(raw) from None
    return host.lower()


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a canonical host stands for when it is an IP literal in any encoding, else None."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise InvalidHost(host) from None
    return parse_ipv4(host)


@dataclass
class Target:
    """A checked destination: where a URL points and the addresses it may be connected to."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: list[IPAddress] = field(default_factory=list)


def split_url(url: str) -> Target:
    """Scheme, host and port of a URL the browser may be sent to; Refused for anything but http(s) URLs."""
    if not isinstance(url, str) or not url.strip():
        raise Refused(str(url), "the URL is empty")
    if any(ch.isspace() or ord(ch) < 32 or ch == "\\" for ch in url.strip()):
        raise Refused(url, f"{url!r} is not a valid URL (it contains spaces, control characters or backslashes)")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        shown = f"{scheme}: URLs" if scheme else "URLs without a scheme"
        raise Refused(url, f"{shown} cannot be fetched; only http:// and https:// URLs are allowed")
    if not parts.hostname:
        raise Refused(url, f"{url} has no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise Refused(url, f"{url} has an invalid port") from None
    try:
        host = canonical_host(parts.hostname)
    except InvalidHost:
        raise Refused(url, f"{parts.hostname} is not a valid host name") from None
    return Target(url=url, scheme=scheme, host=host, port=port)


def port_refusal(port: int) -> str | None:
    if port in BAD_PORTS or not 0 < port < 65536:
        return f"port {port} is blocked (browsers refuse it because other protocols use it)"
    return None


# A name every resolver with internet access knows: when it fails too, the server is offline, not the address wrong.
DNS_PROBE_HOST = "example.com"
_probe: tuple[float, bool] | None = None  # (when, whether the probe resolved), kept a minute


def _internet_names_resolve() -> bool:
    global _probe
    now = time.monotonic()
    if _probe is None or now - _probe[0] > 60:
        try:
            ok = bool(socket.getaddrinfo(DNS_PROBE_HOST, None, type=socket.SOCK_STREAM))
        except (socket.gaierror, UnicodeError, OSError):
            ok = False
        _probe = (now, ok)
    return _probe[1]


def resolve_failure_message(name: str, error: BaseException) -> str:
    """Why `name` did not resolve, blaming the address only when the server can resolve other names."""
    if isinstance(error, socket.gaierror) and error.errno == socket.EAI_AGAIN:
        return (
            f"{name} could not be looked up: the DNS server did not answer. This server may be offline or its DNS "
            "broken, so the address may be fine; try again later or check the server's network."
        )
    if not isinstance(error, UnicodeError) and not _internet_names_resolve():
        return (
            f"{name} could not be looked up, and neither can {DNS_PROBE_HOST}: this server seems to have no internet "
            "access (or no working DNS), so the address may well be fine. Public pages need the server to reach the "
            "internet; hosts on networks an administrator allows (BROWSER_ALLOWED_NETWORKS) still work."
        )
    return f"{name} could not be resolved: no such host. Check the spelling of the address."


class Resolver:
    """Resolves and checks hosts for one job. Each name is looked up once (getaddrinfo) and the answer is
    kept for the whole job, so every connection of the job goes to addresses that were checked."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy if policy is not None else Policy.from_settings()
        self.lookups = 0  # getaddrinfo calls, for tests and timings
        self._cache: dict[str, list[IPAddress] | Exception] = {}
        self._lock = threading.Lock()
        self._host_locks: dict[str, threading.Lock] = {}

    def addresses(self, host: str) -> list[IPAddress]:
        """The checked addresses of a canonical host; Refused if any of them is not allowed."""
        try:
            literal = parse_ip_literal(host)
        except InvalidHost:
            raise Refused(host, f"{host} is not a valid address") from None
        if literal is not None:
            reason = address_refusal(literal, self.policy, shown=host.rstrip("."))
            if reason:
                raise Refused(host, reason)
            return [literal]
        name = host.rstrip(".")
        if (name in _LOCAL_NAMES or name.endswith(".localhost")) and not self.policy.allowed_networks:
            raise Refused(host, f"{host} is {LOOPBACK} name; {HINT}")
        with self._lock:
            host_lock = self._host_locks.setdefault(name, threading.Lock())
        with host_lock:
            cached = self._cache.get(name)
            if cached is None:
                cached = self._resolve(name)
                self._cache[name] = cached
        if isinstance(cached, Exception):
            raise cached
        return cached

    def _resolve(self, name: str) -> list[IPAddress] | Exception:
        self.lookups += 1
        try:
            infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            return ResolveError(resolve_failure_message(name, error))
        addresses: list[IPAddress] = []
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if ip not in addresses:
                addresses.append(ip)
        for ip in addresses:
            problem = address_problem(ip, self.policy)
            if problem:
                kind, v4 = problem
                stands = f", which stands for {v4}" if v4 is not None else ""
                return Refused(name, f"{name} resolves to {ip}{stands}, {kind}; {HINT}")
        if not addresses:
            return ResolveError(f"{name} could not be resolved: DNS knows the name but gives no address for it")
        return addresses

    def check(self, target: Target) -> Target:
        """Fills in the target's addresses; Refused (bad port, non-public address) or ResolveError."""
        reason = port_refusal(target.port)
        if reason:
            raise Refused(target.url, reason)
        try:
            target.addresses = self.addresses(target.host)
        except Refused as error:
            raise Refused(target.url, error.reason) from None
        return target


def check_url(url: str, resolver: Resolver) -> Target:
    """Checks a URL before anything is fetched: http(s) only, a good port, only allowed addresses.
    Raises Refused (logged on `browser.ssrf`) or ResolveError."""
    try:
        return resolver.check(split_url(url))
    except Refused as error:
        log_refusal(error.url, error.reason)
        raise


def log_refusal(url: str, reason: str) -> None:
    logger.warning("refused %s: %s", url, reason)
