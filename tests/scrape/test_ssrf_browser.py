"""SSRF protection with a real Chromium: whatever the page does (top-level URL, redirects, images, fetch,
WebSockets, WebRTC, names that resolve to loopback, DNS rebinding), the internal service on 127.0.0.2
never sees a request. Only 127.0.0.1/32 (the test site) is allow-listed, and in some tests nothing is."""

from __future__ import annotations

import socket
import time

import pytest

from browser import ssrf
from browser.errors import Refused
from browser.proxy import JobProxy, ProxyLoop
from browser.scrape import scrape
from tests.fixtures.web import Reply, html

pytestmark = pytest.mark.browser

LOOPBACK_URLS = [
    "http://127.0.0.1:{port}/",
    "http://2130706433:{port}/",
    "http://0177.0.0.1:{port}/",
    "http://0x7f.1:{port}/",
    "http://0x7f000001:{port}/",
    "http://127.1:{port}/",
    "http://127.0.0.1.:{port}/",
    "http://localhost:{port}/",
    "http://localhost.:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
]


@pytest.fixture
def no_allow_list(settings):
    settings.BROWSER_ALLOWED_NETWORKS = []


def test_top_level_loopback_urls_are_refused_before_anything_is_fetched(site, pool, tmp_path, no_allow_list):
    site.routes["/"] = lambda h: Reply(body=html("<p>private</p>"))
    launches = pool.stats()["launches"]
    for template in LOOPBACK_URLS:
        url = template.format(port=site.port)
        with pytest.raises(Refused, match="loopback") as caught:
            scrape(url, out_dir=tmp_path, pool=pool)
        assert "BROWSER_ALLOWED_NETWORKS" in str(caught.value), url
    assert site.seen == []
    assert pool.stats()["launches"] == launches  # refused before a browser was even needed


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/", "javascript:alert(1)", "data:text/html,hi"])
def test_non_http_top_level_urls_are_refused_with_a_message(url, pool, tmp_path):
    with pytest.raises(Refused, match=r"URLs cannot be fetched; only http:// and https:// URLs are allowed"):
        scrape(url, out_dir=tmp_path, pool=pool)


def test_a_redirect_to_an_internal_address_is_refused(site, target, pool, tmp_path):
    site.routes["/go"] = lambda h: Reply(302, headers={"Location": target.url("/secret")})
    with pytest.raises(Refused) as caught:
        scrape(site.url("/go"), out_dir=tmp_path, pool=pool)
    message = str(caught.value)
    assert message.startswith(f"{site.url('/go')} redirected to {target.url('/secret')}, which was refused:")
    assert "127.0.0.2 is a loopback address" in message
    assert site.paths() == ["/go"]
    assert target.seen == []


def test_a_redirect_chain_is_checked_at_every_hop(site, target, pool, tmp_path):
    site.routes["/one"] = lambda h: Reply(302, headers={"Location": "/two"})
    site.routes["/two"] = lambda h: Reply(301, headers={"Location": f"http://0x7f.0.0.2:{target.port}/secret"})
    with pytest.raises(Refused, match=r"127\.0\.0\.2 is a loopback address"):
        scrape(site.url("/one"), out_dir=tmp_path, pool=pool)
    assert site.paths() == ["/one", "/two"]
    assert target.seen == []


def test_images_fetch_and_iframes_to_internal_addresses_are_blocked_and_reported(site, target, pool, tmp_path):
    t = target.port
    site.routes["/"] = lambda h: Reply(
        body=html(
            f"""<h1>Public page</h1>
            <img src="http://127.0.0.2:{t}/img.png">
            <img src="http://2130706434:{t}/decimal.png">
            <img src="http://0177.0.0.2:{t}/octal.png">
            <img src="http://[::ffff:127.0.0.2]:{t}/mapped.png">
            <img src="https://127.0.0.2:{t}/tls.png">
            <iframe src="http://127.0.0.2:{t}/frame"></iframe>
            <script>
              fetch("http://127.0.0.2:{t}/api", {{method: "POST", body: "x", mode: "no-cors"}}).catch(() => {{}});
              navigator.sendBeacon("http://127.0.0.2:{t}/beacon", "x");
            </script>"""
        )
    )
    result = scrape(site.url("/"), out_dir=tmp_path, options={"wait_until": "networkidle"}, pool=pool)
    assert result["status"] == 200
    assert result["title"] == "" and "Public page" in result["text"]
    blocked = {b["url"] for b in result["blocked"]}
    for path in ("img.png", "decimal.png", "octal.png", "frame", "api", "beacon"):
        assert f"http://127.0.0.2:{t}/{path}" in blocked, (path, blocked)
    assert f"http://[::ffff:7f00:2]:{t}/mapped.png" in blocked  # as Chromium writes it
    assert f"https://127.0.0.2:{t}/" in blocked  # https goes through CONNECT: refused before any TLS
    assert all(
        "127.0.0.2, a loopback address" in b["reason"] or "127.0.0.2 is a loopback address" in b["reason"]
        for b in result["blocked"]
    )
    assert target.seen == []


def test_names_that_resolve_to_loopback_are_refused_top_level_and_in_the_page(site, target, pool, tmp_path, fake_dns):
    fake_dns.table["intranet.test"] = ["127.0.0.2"]
    with pytest.raises(Refused, match=r"intranet\.test resolves to 127\.0\.0\.2, a loopback address"):
        scrape(f"http://intranet.test:{target.port}/secret", out_dir=tmp_path, pool=pool)
    site.routes["/"] = lambda h: Reply(body=html(f'<img src="http://intranet.test:{target.port}/pixel.png"><p>x</p>'))
    result = scrape(site.url("/"), out_dir=tmp_path, pool=pool)
    assert result["blocked"] == [
        {
            "url": f"http://intranet.test:{target.port}/pixel.png",
            "reason": "intranet.test resolves to 127.0.0.2, a loopback address; only public addresses may be "
            "fetched (an admin can allow a network with BROWSER_ALLOWED_NETWORKS)",
        }
    ]
    assert target.seen == []


def test_dns_rebinding_every_request_goes_to_the_first_checked_address(site, target, pool, tmp_path, fake_dns):
    # The first answer is the allowed test site; every later answer would be the internal service.
    answers = iter([["127.0.0.1"]])
    fake_dns.table["rebind.test"] = lambda: next(answers, ["127.0.0.2"])
    port = site.port
    site.routes["/page"] = lambda h: Reply(
        body=html(
            f"""<img src="http://rebind.test:{port}/a.png"><img src="http://rebind.test:{port}/b.png">
            <script>fetch("http://rebind.test:{port}/api")</script><p>rebinding</p>"""
        )
    )
    result = scrape(
        f"http://rebind.test:{port}/page", out_dir=tmp_path, options={"wait_until": "networkidle"}, pool=pool
    )
    assert result["blocked"] == []
    assert sorted(site.paths()) == ["/a.png", "/api", "/b.png", "/favicon.ico", "/page"]
    assert {s.headers["Host"] for s in site.seen} == {f"rebind.test:{port}"}  # the name was kept, the address pinned
    assert fake_dns.calls == ["rebind.test"]  # resolved once for the whole job
    assert target.seen == []


def test_websockets_are_blocked(site, target, pool, tmp_path):
    site.routes["/"] = lambda h: Reply(
        body=html(
            f"""<p id="state">waiting</p><script>
            const ws = new WebSocket("ws://127.0.0.2:{target.port}/socket");
            ws.onerror = ws.onclose = () => document.getElementById("state").textContent = "closed";
            ws.onopen = () => document.getElementById("state").textContent = "open";
            </script>"""
        )
    )
    result = scrape(site.url("/"), out_dir=tmp_path, options={"wait_for_selector": "text=closed"}, pool=pool)
    assert {
        "url": f"ws://127.0.0.2:{target.port}/socket",
        "reason": "WebSockets are not supported by the browser service",
    } in result["blocked"]
    assert target.seen == []


def test_webrtc_cannot_send_udp_to_internal_addresses(site, pool, tmp_path):
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.2", 0))
    listener.settimeout(0.5)
    udp_port = listener.getsockname()[1]
    site.routes["/"] = lambda h: Reply(
        body=html(
            f"""<p id="done">no</p><script>
            (async () => {{
              const pc = new RTCPeerConnection({{iceServers: [{{urls: "stun:127.0.0.2:{udp_port}"}}]}});
              pc.createDataChannel("x");
              await pc.setLocalDescription(await pc.createOffer());
              await new Promise((r) => setTimeout(r, 1000));
              document.getElementById("done").textContent = "yes";
            }})();
            </script>"""
        )
    )
    try:
        scrape(site.url("/"), out_dir=tmp_path, options={"wait_for_selector": "text=yes"}, pool=pool)
        with pytest.raises(TimeoutError):
            listener.recvfrom(2048)
    finally:
        listener.close()


def test_the_browser_itself_can_reach_nothing_without_the_job_proxy(site, target, pool):
    """The second wall: a context created without the job's proxy uses the browser-wide proxy, a closed port
    (and loopback is not exempt from it), so even a bug that skipped the job proxy would fetch nothing."""
    with pool.context() as job:
        bare = job.context.browser.new_context()
        try:
            page = bare.new_page()
            for url in (site.url("/"), target.url("/"), f"http://localhost:{site.port}/", "http://169.254.169.254/"):
                with pytest.raises(Exception, match="ERR_PROXY_CONNECTION_FAILED"):
                    page.goto(url, timeout=5000)
        finally:
            bare.close()
    assert site.seen == [] and target.seen == []


def test_the_proxy_tunnels_connect_only_to_checked_addresses(site, target):
    """CONNECT (used for https and wss) is checked like any request; allowed tunnels carry bytes both ways."""
    site.routes["/tunnel"] = lambda h: Reply(body="through the tunnel", content_type="text/plain")
    loop = ProxyLoop()
    proxy = JobProxy(loop=loop, resolver=ssrf.Resolver(), max_bytes=1_000_000).start()
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as conn:
            conn.sendall(f"CONNECT 127.0.0.1:{site.port} HTTP/1.1\r\nHost: 127.0.0.1:{site.port}\r\n\r\n".encode())
            assert conn.recv(1024).startswith(b"HTTP/1.1 200")
            conn.sendall(f"GET /tunnel HTTP/1.1\r\nHost: 127.0.0.1:{site.port}\r\nConnection: close\r\n\r\n".encode())
            reply = _read_all(conn)
        assert b"through the tunnel" in reply
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as conn:
            conn.sendall(f"CONNECT 127.0.0.2:{target.port} HTTP/1.1\r\n\r\n".encode())
            refused = _read_all(conn)
        assert refused.startswith(b"HTTP/1.1 403")
        assert b"127.0.0.2 is a loopback address" in refused
        reason = ssrf.address_refusal(ssrf.parse_ipv4("127.0.0.2"), ssrf.Policy())
        assert proxy.blocked == [{"url": f"https://127.0.0.2:{target.port}/", "reason": reason}]
        assert [c["address"] for c in proxy.connections] == ["127.0.0.1"]
    finally:
        proxy.stop()
        loop.stop()
    assert target.seen == []


def _read_all(conn: socket.socket) -> bytes:
    chunks, deadline = [], time.monotonic() + 5
    while time.monotonic() < deadline:
        data = conn.recv(65536)
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def _self_signed(tmp_path, name: str) -> tuple[str, str]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


def test_https_is_tunnelled_to_the_checked_address_with_sni_and_certificate_checks(pool, tmp_path, fake_dns):
    """The proxy only tunnels bytes for https: TLS is between Chromium and the server, so the server name
    (SNI) is the real host name and Chromium checks the certificate (a self-signed one is rejected)."""
    import ssl

    from browser.errors import NavigationFailed
    from tests.fixtures.web import RecordingServer

    server = RecordingServer("127.0.0.1")
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_self_signed(tmp_path, "tls.test"))
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    fake_dns.table["tls.test"] = ["127.0.0.1"]
    try:
        with pytest.raises(
            NavigationFailed, match=r"could not load https://tls\.test:\d+/: .*ERR_CERT_AUTHORITY_INVALID"
        ):
            scrape(f"https://tls.test:{server.port}/", out_dir=tmp_path, pool=pool)
    finally:
        server.stop()
    assert "tls.test" in names  # the TLS handshake reached the pinned address with the real name
    assert server.seen == []  # and no request was sent over an untrusted connection
