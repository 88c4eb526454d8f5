"""Finding a verification mail, wherever the marketplace's mail goes.

Two places are supported: Django's locmem outbox (when the server runs in this process, as in the
end-to-end test) and the file backend's folder (EMAIL_FILE_PATH, var/mail/ in the embedded default),
read as the server writes it: files holding one or more messages separated by a line of dashes.
"""

import email
import email.policy
import re
import time
from pathlib import Path
from urllib.parse import unquote

from django.conf import settings

VERIFY_LINK = re.compile(r"/account/verify-email/(\S+)")
SEPARATOR = b"-" * 79


def _keys_in(body: str) -> list[str]:
    return [unquote(m.rstrip(".,;>)\"'")) for m in VERIFY_LINK.findall(body)]


def _outbox_key(address: str) -> str | None:
    from django.core import mail

    for message in reversed(getattr(mail, "outbox", None) or []):
        if address in [a.lower() for a in message.to]:
            keys = _keys_in(message.body)
            if keys:
                return keys[-1]
    return None


def _message_texts(raw: bytes):
    for chunk in raw.split(SEPARATOR):
        chunk = chunk.strip()
        if not chunk:
            continue
        message = email.message_from_bytes(chunk, policy=email.policy.default)
        recipients = str(message.get("To", "")).lower()
        texts = []
        for part in message.walk():
            if part.get_content_maintype() == "text":
                try:
                    texts.append(part.get_content())
                except (LookupError, ValueError):
                    continue
        yield recipients, "\n".join(texts)


def _folder_key(folder: Path, address: str) -> str | None:
    if not folder.is_dir():
        return None
    files = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in files[:500]:  # newest first; a busy var/mail/ need not be read in full
        try:
            raw = path.read_bytes()
        except OSError:
            continue
        if address.encode() not in raw.lower():
            continue
        for recipients, text in reversed(list(_message_texts(raw))):
            if address in recipients:
                keys = _keys_in(text)
                if keys:
                    return keys[-1]
    return None


def verification_key(address: str, *, mail_dir: str | None = None, timeout: float = 30.0) -> str:
    """The key from the newest verification mail to address; waits up to timeout for it to arrive."""
    address = address.lower()
    folder = Path(mail_dir or getattr(settings, "EMAIL_FILE_PATH", "") or "var/mail")
    deadline = time.monotonic() + timeout
    while True:
        key = _outbox_key(address) or _folder_key(folder, address)
        if key:
            return key
        if time.monotonic() > deadline:
            raise TimeoutError(f"no verification mail for {address} (outbox or {folder}) within {timeout:.0f}s")
        time.sleep(0.2)
