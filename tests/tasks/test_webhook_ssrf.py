"""SSRF through client callback URLs, by class: every class is refused when the URL is saved (the API's 400
callback_url_refused, the service behind it) and again when a delivery is sent (a stored row, written
before the rules or while WEBHOOKS_ALLOW_PRIVATE_URLS was on). The send connects only to the address it
checked (DNS rebinding) and never follows a redirect.

Names are resolved by a table (socket.getaddrinfo replaced), so the tests do not depend on the
machine's resolver; numeric hosts go to the real getaddrinfo, which (glibc) reads 2130706433, 0177.0.0.1
and 127.1 as 127.0.0.1: the guard must refuse them before or after asking it.
"""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from marketplace.errors import ValidationFailed
from tasks.models import Client, WebhookAttempt, WebhookDelivery
from tasks.services import webhooks as webhooks_service
from tasks.services.clients import client_callback_set
from tasks.services.webhooks import callback_url_check, webhook_attempt, webhook_delivery_create
from tests.tasks.client_support import ClientSession

# Names the fake resolver answers (anything else goes to the real getaddrinfo).
RESOLVES = {
    "public.example": ["93.184.216.34"],
    "public6.example": ["2606:2800:220:1:248:1893:25c8:1946"],
    "internal.example": ["10.0.0.5"],
    "metadata.example": ["169.254.169.254"],
    "loop6.example": ["::1"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "nat64.example": ["64:ff9b::a00:1"],
    "cgnat.example": ["100.100.100.200"],
    "mixed.example": ["93.184.216.34", "192.168.0.7"],  # one bad answer among good ones is enough
}

REFUSED = {
    "loopback": ["http://127.0.0.1:9/hook", "http://127.255.255.254/hook", "http://[::1]/hook",
                 "http://localhost/hook", "http://LocalHost:8000/hook", "http://api.localhost/hook",
                 "http://0.0.0.0/hook", "http://[::]/hook"],  # noqa: S104 - the unspecified address, refused
    "link-local and metadata": ["http://169.254.169.254/latest/meta-data/", "http://169.254.0.1/hook",
                                "http://[fe80::1]/hook", "http://[fe80::1%25eth0]/hook"],
    "private": ["http://10.1.2.3/hook", "http://172.16.0.1/hook", "http://172.31.255.254/hook",
                "http://192.168.0.10/hook", "http://100.64.0.1/hook", "http://100.100.100.200/latest/meta-data/",
                "http://[fc00::1]/hook", "http://[fd12:3456::1]/hook"],
    "IPv6 carrying IPv4": ["http://[::ffff:127.0.0.1]/hook", "http://[::ffff:7f00:1]/hook",
                           "http://[::ffff:10.0.0.1]/hook", "http://[::127.0.0.1]/hook",
                           "http://[::ffff:0:127.0.0.1]/hook", "http://[2002:7f00:1::1]/hook",
                           "http://[2002:a9fe:a9fe::]/hook", "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook"],
    "NAT64": ["http://[64:ff9b::7f00:1]/hook", "http://[64:ff9b::a9fe:a9fe]/hook", "http://[64:ff9b::a00:1]/hook",
              "http://[64:ff9b:1::a00:1]/hook"],
    "numeric forms": ["http://2130706433/hook", "http://0177.0.0.1/hook", "http://0x7f.1/hook",
                      "http://0x7f000001/hook", "http://017700000001/hook", "http://127.1/hook", "http://0/hook",
                      "http://127.000.000.001/hook", "http://2852039166/latest/meta-data/",
                      "http://0251.0376.0251.0376/latest/meta-data/", "http://0xa9.0xfe.0xa9.0xfe/",
                      "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/hook"],  # fullwidth digits: 127.0.0.1
    "trailing dots": ["http://127.0.0.1./hook", "http://localhost./hook", "http://10.0.0.1../hook"],
    "userinfo": ["http://good.example@127.0.0.1/hook", "http://good.example:pw@127.0.0.1/hook",
                 "http://@127.0.0.1/hook", "http://public.example@169.254.169.254/",
                 "http://127.0.0.1%2f@public.example/hook", "http://public.example\\@127.0.0.1/hook",
                 "http://user:pw@public.example/hook"],
    "names that resolve inward": ["http://internal.example/hook", "https://metadata.example/latest/",
                                  "http://loop6.example/hook", "http://mapped.example/hook",
                                  "http://nat64.example/hook", "http://cgnat.example/hook", "http://mixed.example/hook",
                                  "http://\u24dbocalhost/hook"],  # a circled l: IDNA folds it to localhost
    "other non-global": ["http://192.0.2.1/hook", "http://198.18.0.1/hook", "http://240.0.0.1/hook",
                         "http://255.255.255.255/hook", "http://224.0.0.1/hook", "http://[ff02::1]/hook",
                         "http://[2001:db8::1]/hook", "http://[3fff::1]/hook", "http://[5f00::1]/hook"],
    "not http": ["ftp://public.example/hook", "file:///etc/passwd", "gopher://public.example/", "http:///hook",
                 "javascript:alert(1)", "http://does-not-resolve.invalid/hook"],
}
REFUSED_CASES = [pytest.param(url, id=f"{kind}: {url}") for kind, urls in REFUSED.items() for url in urls]

ALLOWED = ["https://public.example/hook", "http://public.example:8443/hooks?x=1", "https://Public.Example./hook",
           "https://public6.example/hook", "http://8.8.8.8/hook", "https://[2606:4700:4700::1111]/hook",
           "http://[64:ff9b::808:808]/hook", "http://[2002:808:808::1]/hook", "http://[::ffff:8.8.8.8]/hook"]

# With WEBHOOKS_ALLOW_PRIVATE_URLS on (tests, a local receiver): loopback and private ranges pass, the
# cloud's metadata service (link-local), multicast, unspecified and non-canonical numbers still do not.
DEV_ALLOWED = ["http://127.0.0.1:9/hook", "http://localhost/hook", "http://[::1]/hook", "http://10.1.2.3/hook",
               "http://internal.example/hook", "http://100.64.0.1/hook"]
DEV_REFUSED = ["http://169.254.169.254/latest/meta-data/", "http://metadata.example/", "http://[fe80::1]/hook",
               "http://[::ffff:169.254.169.254]/", "http://0.0.0.0/hook", "http://224.0.0.1/hook",  # noqa: S104
               "http://2130706433/hook", "http://0x7f.1/hook", "http://good@127.0.0.1/hook"]


@pytest.fixture(autouse=True)
def resolver(monkeypatch):
    """The fake resolver: RESOLVES for its names, the real getaddrinfo for the rest. `calls` records every
    name asked; `answers` may be changed by a test (DNS rebinding)."""
    real = socket.getaddrinfo
    state = {"answers": {name: list(addresses) for name, addresses in RESOLVES.items()}, "calls": []}

    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        state["calls"].append(name)
        if name in state["answers"] or name.rstrip(".") in state["answers"]:
            answers = state["answers"].get(name) or state["answers"][name.rstrip(".")]
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                    for a in answers]
        if name.endswith((".example", ".invalid")):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return state


@pytest.fixture
def connects(monkeypatch):
    """Every outgoing connection the webhook code opens: the test fails if a refused URL gets one."""
    opened = []
    real = socket.create_connection

    def create_connection(address, *args, **kwargs):
        opened.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(webhooks_service.socket, "create_connection", create_connection)
    return opened


@pytest.fixture
def lab(db):
    return ClientSession("Lab A")


def _stored_delivery(lab, url: str) -> WebhookDelivery:
    """A callback URL already in the row (saved before these rules, or while the dev setting was on) and a
    pending delivery to it: what the send-time check must stop."""
    Client.objects.filter(pk=lab.client_row.pk).update(callback_url=url, webhook_secret="whsec_" + "x" * 48)
    return webhook_delivery_create(client_id=lab.client_row.pk, event="task.completed", event_key=f"k:{url}",
                                   data={"project": 1})


@pytest.mark.parametrize("url", REFUSED_CASES)
def test_every_class_is_refused_when_the_url_is_saved(lab, settings, url):
    """The service (what the API and the admin call) refuses with callback_url_refused, naming the field,
    and the API answers the same 400 with nothing stored."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    with pytest.raises(ValidationFailed) as refused:
        client_callback_set(client_id=lab.client_row.pk, callback_url=url)
    assert refused.value.code == "callback_url_refused" and "callback_url" in refused.value.fields
    response = lab.patch("/api/v1/client/", {"callback_url": url})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "callback_url_refused" and "callback_url" in error["fields"], error
    assert Client.objects.get(pk=lab.client_row.pk).callback_url == ""


@pytest.mark.parametrize("url", REFUSED_CASES)
def test_every_class_is_refused_again_when_a_delivery_is_sent(lab, settings, connects, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    delivery = _stored_delivery(lab, url)
    assert webhook_attempt(delivery_id=delivery.pk)[0] == "retry"
    assert connects == [], f"a connection was opened for {url}"
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.error.startswith("refused: callback_url:") and attempt.status_code is None


@pytest.mark.parametrize("url", ALLOWED)
def test_public_urls_are_accepted(lab, settings, url):
    """The other side of the table: the guard is not refusing everything."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    response = lab.patch("/api/v1/client/", {"callback_url": url})
    assert response.status_code == 200, response.content
    assert response.json()["callback_url"] == url
    assert callback_url_check(url)


@pytest.mark.parametrize("url", DEV_ALLOWED)
def test_the_development_setting_lets_loopback_and_private_receivers_through(settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    assert callback_url_check(url)


@pytest.mark.parametrize("url", DEV_REFUSED)
def test_the_development_setting_never_opens_metadata_multicast_or_odd_numbers(lab, settings, connects, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    with pytest.raises(ValidationFailed):
        callback_url_check(url)
    assert webhook_attempt(delivery_id=_stored_delivery(lab, url).pk)[0] == "retry"
    assert connects == []


def test_the_development_setting_is_off_in_production_unless_switched_on():
    """Production settings, with the variable unset (the test settings switch it on): off."""
    import subprocess
    import sys

    from tests.conftest import ROOT
    from tests.marketplace.test_settings import _production_env

    env = {k: v for k, v in _production_env().items() if k != "WEBHOOKS_ALLOW_PRIVATE_URLS"}
    result = subprocess.run([sys.executable, "-c", "import marketplace.settings as s; print(s.WEBHOOKS_ALLOW_PRIVATE_URLS)"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout.strip()) == (0, "False"), result.stderr


class Receiver:
    """A real HTTP server on 127.0.0.1: answers `status` (with `location` for a redirect) and records requests."""

    def __init__(self, status: int = 200, location: str | None = None):
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "host": self.headers["Host"]})
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):  # noqa: N802
                receiver.requests.append({"path": self.path, "host": self.headers["Host"], "method": "GET"})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_send_connects_to_the_address_it_checked_not_to_a_fresh_answer(lab, settings, resolver, connects,
                                                                           monkeypatch):
    """DNS rebinding inside one attempt: the name answers the receiver's address to the check, then
    127.0.0.2 (nobody listens there) to anyone who asks again. The POST must reach the receiver, with the
    name in its Host header, and the name must be resolved once."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True  # the receiver is on the loopback
    receiver = Receiver()
    try:
        host = "rebind.example"
        delivery = _stored_delivery(lab, f"http://{host}:{receiver.port}/hook")
        original = socket.getaddrinfo
        answered = []

        def rebinding(name, port, *args, **kwargs):
            if name == host:
                answered.append(name)
                resolver["answers"][host] = ["127.0.0.1" if len(answered) == 1 else "127.0.0.2"]
            return original(name, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", rebinding)
        assert webhook_attempt(delivery_id=delivery.pk)[0] == "delivered"
        assert receiver.requests == [{"path": "/hook", "host": f"{host}:{receiver.port}"}]
        assert answered == [host] and connects == [("127.0.0.1", receiver.port)]
    finally:
        receiver.close()


def test_a_name_public_at_save_and_private_at_send_is_refused_and_nothing_is_sent(lab, settings, resolver, connects):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    resolver["answers"]["rebind.example"] = ["93.184.216.34"]
    response = lab.patch("/api/v1/client/", {"callback_url": "http://rebind.example/hook"})
    assert response.status_code == 200, response.content
    delivery = webhook_delivery_create(client_id=lab.client_row.pk, event="task.completed", event_key="k",
                                       data={"project": 1})
    for inward in ("100.100.100.200", "127.0.0.1", "169.254.169.254", "::ffff:10.0.0.1"):
        resolver["answers"]["rebind.example"] = ["93.184.216.34", inward]
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=None)
        assert webhook_attempt(delivery_id=delivery.pk)[0] == "retry"
        assert inward in WebhookAttempt.objects.filter(delivery=delivery).latest("number").error
    assert connects == []


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_never_followed(lab, settings, connects, status):
    """A receiver that answers a redirect (to an inward address, here another local server) has failed the
    attempt: nothing reaches the redirect's target, and the retry goes to the registered URL again."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    inward = Receiver()
    redirecting = Receiver(status=status, location=f"http://127.0.0.1:{inward.port}/admin")
    try:
        delivery = _stored_delivery(lab, f"http://127.0.0.1:{redirecting.port}/hook")
        assert webhook_attempt(delivery_id=delivery.pk)[0] == "retry"
        assert len(redirecting.requests) == 1 and inward.requests == []
        assert WebhookAttempt.objects.get(delivery=delivery).error == f"HTTP {status}"
        assert connects == [("127.0.0.1", redirecting.port)]
    finally:
        inward.close()
        redirecting.close()
