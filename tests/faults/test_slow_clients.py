"""Slow clients cannot take the service down: deploy/nginx/ce.conf in front of gunicorn.

gunicorn's sync workers (README, "Production") each serve one request at a
time and read it from the client themselves, so a few clients that send their
headers or body slowly hold every worker and nobody else is answered. The first
test shows that harm on real workers (and that the probe here sees it); the
others run the repository's nginx site file, with only its ports, certificate
and upstream address changed, in front of the same workers: the same slow
clients delay no one, Django learns that the request came over HTTPS, and
log-in lock-outs count each client's own address (DJANGO_TRUSTED_PROXY_COUNT=1).

nginx is Debian's package (.ci/run installs it). Without it these tests skip
with the fix, except in CI, where that is a failure. PostgreSQL only, as the
other server tests (tests/faults/test_server_faults.py).
"""

from __future__ import annotations

import http.client
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.parse
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from accounts.models import User
from tests.faults.test_server_faults import CSRF
from tests.httpd import free_port

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "deploy" / "nginx" / "ce.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WORKERS = 2
SLOW_CLIENTS = WORKERS + 1  # of each kind: more than there are workers
ANSWER_WITHIN = 3.0  # seconds; a request that finds a free worker takes milliseconds
PROBE = "/bench/floor/16/"  # a page that needs no database query
HOST = "localhost"  # in the servers' DJANGO_ALLOWED_HOSTS

pytestmark = [pytest.mark.postgres]


def _need_nginx() -> None:
    if Path(NGINX).exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI needs nginx at {NGINX} for the slow-client tests (.ci/run installs it).")
    pytest.skip("no nginx: install Debian's package (sudo apt-get install nginx) to run the slow-client tests")


# --- the clients ---------------------------------------------------------------------------


def _connect(port: int, tls: bool, timeout: float, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    if not tls:
        return sock
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
    return context.wrap_socket(sock, server_hostname=HOST)


@contextmanager
def _slow_clients(port: int, *, tls: bool):
    """SLOW_CLIENTS connections that stop halfway through their headers, and as many that
    send whole headers and then ten bytes of a 100,000-byte form body. Held open until
    the block ends."""
    socks = []
    try:
        for _ in range(SLOW_CLIENTS):
            sock = _connect(port, tls, timeout=10)
            sock.sendall(f"GET {PROBE} HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: slow".encode())
            socks.append(sock)
        for _ in range(SLOW_CLIENTS):
            sock = _connect(port, tls, timeout=10)
            sock.sendall(
                f"POST /accounts/login/ HTTP/1.1\r\nHost: {HOST}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
                "username=a".encode()
            )
            socks.append(sock)
        time.sleep(0.5)  # every one accepted, and (without the proxy) taken by a worker
        yield
    finally:
        for sock in socks:
            sock.close()


def _get(port: int, *, tls: bool, timeout: float, headers: dict | None = None) -> http.client.HTTPResponse:
    conn_class = http.client.HTTPSConnection if tls else http.client.HTTPConnection
    kwargs = {"context": ssl._create_unverified_context()} if tls else {}  # noqa: S323 (self-signed)
    conn = conn_class("127.0.0.1", port, timeout=timeout, **kwargs)
    conn.request("GET", PROBE, headers={"Host": HOST, **(headers or {})})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def _seconds_to_answer(port: int, *, tls: bool, headers: dict | None = None) -> float | None:
    """How long a plain GET of PROBE took to answer 200, or None if no answer came within ANSWER_WITHIN."""
    started = time.monotonic()
    try:
        response = _get(port, tls=tls, timeout=ANSWER_WITHIN, headers=headers)
    except TimeoutError:
        return None
    assert response.status == HTTPStatus.OK, response.status
    return time.monotonic() - started


# --- nginx -----------------------------------------------------------------------------------


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    return cert_path, key_path


def _site_for_test(app_port: int, http_port: int, https_port: int, cert: Path, key: Path) -> str:
    """deploy/nginx/ce.conf with its ports, certificate and upstream changed, each exactly once."""
    site = SITE.read_text()
    for old, new in [
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        ("/etc/ssl/certs/ce.example.org.pem", str(cert)),
        ("/etc/ssl/private/ce.example.org.key", str(key)),
    ]:
        assert site.count(old) == 1, f"{SITE} no longer holds {old!r} once: update this test"
        site = site.replace(old, new)
    return site


@pytest.fixture
def proxied(start_server, tmp_path):
    """(https port, http port): nginx with deploy/nginx/ce.conf in front of WORKERS sync workers,
    configured as production behind it (SSL redirect on, one trusted proxy)."""
    _need_nginx()
    _, app_port = start_server(WORKERS, DJANGO_SECURE_SSL_REDIRECT="true", DJANGO_TRUSTED_PROXY_COUNT="1")
    http_port, https_port = free_port(), free_port()
    cert, key = _self_signed(tmp_path)
    (tmp_path / "ce.conf").write_text(_site_for_test(app_port, http_port, https_port, cert, key))
    temp_paths = ""
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / kind).mkdir()
        temp_paths += f"    {kind}_temp_path {tmp_path / kind};\n"
    # As Debian's nginx.conf holds the site, with this test's own pid, logs and temp files.
    # Workers run as this user (root in CI), so they can use the temp files.
    (tmp_path / "nginx.conf").write_text(
        f"user {pwd.getpwuid(os.geteuid()).pw_name};\ndaemon off;\nworker_processes 1;\n"
        f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'} warn;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n    access_log off;\n{temp_paths}    include {tmp_path / 'ce.conf'};\n}}\n"
    )
    process = subprocess.Popen(  # noqa: S603
        [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "error.log")],
        start_new_session=True, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, f"nginx exited: {process.stderr.read().decode()}"
            try:
                _get(https_port, tls=True, timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not answer within 20 s"
                time.sleep(0.1)
        yield https_port, http_port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


# --- the tests -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_without_the_proxy_slow_clients_hold_every_sync_worker(start_server):
    """The harm the proxy is for, and the check on this test's probe: it must see it."""
    _, port = start_server(WORKERS)
    assert _seconds_to_answer(port, tls=False, headers={"X-Forwarded-Proto": "https"}) is not None
    with _slow_clients(port, tls=False):
        assert _seconds_to_answer(port, tls=False, headers={"X-Forwarded-Proto": "https"}) is None


@pytest.mark.django_db
def test_behind_the_proxy_slow_clients_delay_no_one(proxied):
    https_port, _ = proxied
    with _slow_clients(https_port, tls=True):
        waits = [_seconds_to_answer(https_port, tls=True) for _ in range(5)]
    assert None not in waits, waits
    assert max(waits) < 1.0, waits


@pytest.mark.django_db
def test_the_proxy_tells_django_the_request_came_over_https(proxied):
    https_port, http_port = proxied
    # Over HTTPS, Django (SSL redirect on) answers the page itself, with HSTS: it saw
    # X-Forwarded-Proto: https from nginx. A client's own header is replaced, not passed on.
    secure = _get(https_port, tls=True, timeout=10, headers={"X-Forwarded-Proto": "http"})
    assert secure.status == HTTPStatus.OK
    assert secure.getheader("Strict-Transport-Security", "").startswith("max-age=")
    # Plain HTTP goes to HTTPS before reaching the app.
    plain = _get(http_port, tls=False, timeout=10, headers={"X-Forwarded-Proto": "https"})
    assert plain.status == HTTPStatus.MOVED_PERMANENTLY
    assert plain.getheader("Location") == f"https://{HOST}{PROBE}"


def _log_in(port: int, source: str, email: str, password: str, forged: str) -> int:
    """A sign-in over HTTPS from the loopback address `source` (nginx sees it as the client's),
    with a forged X-Forwarded-For; the status."""
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": CSRF, "username": email, "password": password})
    conn = http.client.HTTPSConnection(
        "127.0.0.1", port, timeout=30, source_address=(source, 0),
        context=ssl._create_unverified_context(),  # noqa: S323 (self-signed)
    )
    headers = {
        "Host": HOST, "Origin": f"https://{HOST}", "Cookie": f"csrftoken={CSRF}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    conn.request("POST", "/accounts/login/", body=body, headers=headers | ({"X-Forwarded-For": forged} if forged else {}))
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status


@pytest.mark.django_db(transaction=True)
def test_behind_the_proxy_a_lock_out_holds_the_attacker_not_the_clinician(proxied, settings):
    """Every request reaches gunicorn from nginx's address; counted by it, one attacker's
    failures would lock the clinician out everywhere (tests/security/test_client_address.py)."""
    https_port, _ = proxied
    # Hashed as the servers hash (the test settings use a fast hasher they do not accept).
    password = PBKDF2PasswordHasher().encode("the-real-passphrase", PBKDF2PasswordHasher().salt())
    User.objects.create(email="target@example.org", password=password, full_name="T")
    attacker, clinician = "127.0.0.2", "127.0.0.3"
    statuses = [
        _log_in(https_port, attacker, "target@example.org", "wrong", forged=f"198.51.100.{n}")
        for n in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert statuses == [HTTPStatus.BAD_REQUEST] * (settings.AXES_FAILURE_LIMIT - 1) + [HTTPStatus.TOO_MANY_REQUESTS]
    assert _log_in(https_port, attacker, "target@example.org", "the-real-passphrase", forged="192.0.2.1") == (
        HTTPStatus.TOO_MANY_REQUESTS
    )
    assert _log_in(https_port, clinician, "target@example.org", "the-real-passphrase", forged="") == HTTPStatus.FOUND
