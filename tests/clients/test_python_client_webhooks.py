"""marketplace_client.verify_webhook against the server's own signer (tasks.services.webhooks.signature_header,
the function every delivery is signed with): authentic deliveries pass, anything forged, altered or replayed
does not."""

import json
import time

import pytest

from marketplace_client import WebhookVerificationError, verify_webhook
from tasks.services.webhooks import SIGNATURE_HEADER, signature_header, signature_verify

SECRET = "whsec_" + "k" * 40
BODY = json.dumps({"id": "0b0c3f4e-1", "event": "task.completed", "created": 1795816800,
                   "data": {"project": 42, "task": {"external_id": "ex-1"}}}).encode()


def signed(body=BODY, secret=SECRET, timestamp=None):
    return {SIGNATURE_HEADER: signature_header(secret=secret, body=body, timestamp=timestamp),
            "Content-Type": "application/json"}


def test_an_authentic_delivery_returns_its_event():
    event = verify_webhook(SECRET, BODY, signed())
    assert event["event"] == "task.completed" and event["data"]["task"]["external_id"] == "ex-1"
    # the header's value alone, a lower-cased header map, a str body: all the same delivery
    assert verify_webhook(SECRET, BODY.decode(), signed()[SIGNATURE_HEADER]) == event
    assert verify_webhook(SECRET, BODY, {k.lower(): v for k, v in signed().items()}) == event


@pytest.mark.parametrize("forgery", [
    lambda h: (BODY.replace(b"ex-1", b"ex-2"), h),                               # altered body
    lambda h: (json.dumps(json.loads(BODY), indent=1).encode(), h),               # re-serialised JSON
    lambda h: (BODY, signed(secret="whsec_other")),                               # another secret
    lambda h: (BODY, {SIGNATURE_HEADER: h[SIGNATURE_HEADER].replace("v1=", "v1=0")}),
    lambda h: (BODY, {SIGNATURE_HEADER: h[SIGNATURE_HEADER].split(",")[0]}),      # no v1
    lambda h: (BODY, {SIGNATURE_HEADER: "v1=" + h[SIGNATURE_HEADER].split("v1=")[1]}),  # no t
    lambda h: (BODY, {SIGNATURE_HEADER: "t=soon,v1=ab"}),
    lambda h: (BODY, {SIGNATURE_HEADER: ""}),
    lambda h: (BODY, {"Content-Type": "application/json"}),                       # not signed at all
])
def test_forged_or_altered_deliveries_are_refused(forgery):
    body, headers = forgery(signed())
    with pytest.raises(WebhookVerificationError):
        verify_webhook(SECRET, body, headers)


def test_a_replay_outside_the_tolerance_is_refused_and_agrees_with_the_server():
    now = int(time.time())
    old = signed(timestamp=now - 301)
    with pytest.raises(WebhookVerificationError, match="away from now"):
        verify_webhook(SECRET, BODY, old)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(SECRET, BODY, signed(timestamp=now + 301))  # from the future
    assert verify_webhook(SECRET, BODY, signed(timestamp=now - 299))
    assert verify_webhook(SECRET, BODY, old, tolerance=600)
    # the server's own verifier (what our tests' receivers use) draws the same line
    assert not signature_verify(secret=SECRET, body=BODY, header=old[SIGNATURE_HEADER])


def test_during_a_rotation_either_secret_verifies():
    headers = signed(secret="whsec_new")
    assert verify_webhook(["whsec_old", "whsec_new"], BODY, headers)["id"] == "0b0c3f4e-1"
    with pytest.raises(WebhookVerificationError):
        verify_webhook(["whsec_old"], BODY, headers)
    with pytest.raises(ValueError):
        verify_webhook("", BODY, headers)


def test_a_signed_body_that_is_not_a_json_object_is_refused():
    for body in (b"[1, 2]", b"not json"):
        with pytest.raises(WebhookVerificationError):
            verify_webhook(SECRET, body, signed(body=body))
