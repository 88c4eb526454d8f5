"""The README's three screenshots (issue 30): the worker's task page, the ops console and the finance console,
made by the browser tests that walk those pages. `make screenshots` runs those three tests with
README_SCREENSHOTS=1; each then calls readme_shot(driver, name) at the page it has just checked, which writes
docs/screenshots/<name>.png: the first WIDTH x HEIGHT CSS pixels of the page at device scale 1 (the
viewport, not the whole page), PNG recompressed at zlib's best level. Without the variable readme_shot does
nothing, so the ordinary test runs never touch docs/. tests/test_readme_screenshots.py checks that the three
files exist, have that size and are referenced by README.md."""

import base64
import os
import struct
import zlib

from tests.conftest import ROOT

DIR = ROOT / "docs" / "screenshots"
NAMES = ("worker-task", "ops-console", "finance-console")
WIDTH, HEIGHT = 1280, 800
ENV = "README_SCREENSHOTS"

_SETTLE = """
var done = arguments[arguments.length - 1];
requestAnimationFrame(function () { requestAnimationFrame(function () { requestAnimationFrame(done); }); });
"""


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return struct.unpack(">II", data[16:24])


def recompress(data: bytes) -> bytes:
    """The same PNG with its image data deflated at level 9 (Chromium writes it fast, not small); every other
    chunk is kept as it was. Lossless: the pixels are the same bytes."""
    chunks, idat, pos = [], b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IDAT":
            idat += body
            if not any(k == b"IDAT" for k, _ in chunks):
                chunks.append((b"IDAT", b""))
        else:
            chunks.append((kind, body))
    out = [data[:8]]
    for kind, body in chunks:
        if kind == b"IDAT":
            body = zlib.compress(zlib.decompress(idat), 9)
        out.append(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body)))
    return b"".join(out)


def readme_shot(driver, name: str, *, restore: tuple[int, int] | None = None):
    """Writes docs/screenshots/<name>.png when README_SCREENSHOTS is set; returns its path (or None). Then
    the viewport goes back to `restore` (width, height) if given, else to the window's own size."""
    if name not in NAMES:
        raise ValueError(f"{name!r} is not one of the README's screenshots {NAMES}")
    if not os.environ.get(ENV):
        return None
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})
    try:
        driver.execute_async_script(_SETTLE)  # a resized page has laid out and its charts redrawn
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "clip": {"x": 0, "y": 0, "width": WIDTH, "height": HEIGHT, "scale": 1}})
    finally:
        if restore:
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": restore[0], "height": restore[1], "deviceScaleFactor": 1, "mobile": False})
        else:
            driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    data = recompress(base64.b64decode(shot["data"]))
    assert png_size(data) == (WIDTH, HEIGHT), png_size(data)
    DIR.mkdir(parents=True, exist_ok=True)
    path = DIR / f"{name}.png"
    path.write_bytes(data)
    return path
