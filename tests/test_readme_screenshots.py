"""README.md shows the worker app, the ops console and the finance console (issue 30): the three PNGs that
`make screenshots` writes are in docs/screenshots/, are 1280 x 800 PNGs of a sane size, and README.md
shows each of them, so none can go missing silently."""

import re

import pytest

from tests.conftest import ROOT
from tests.readme_screenshots import DIR, HEIGHT, NAMES, WIDTH, png_size, recompress


@pytest.mark.parametrize("name", NAMES)
def test_each_screenshot_is_there_at_1280_px_and_small(name):
    path = DIR / f"{name}.png"
    assert path.is_file(), f"{path} is missing: run `make screenshots`"
    data = path.read_bytes()
    assert png_size(data) == (WIDTH, HEIGHT)
    assert 10_000 < len(data) < 300_000, len(data)  # a page, not a blank; small enough for the repository


def test_the_readme_shows_all_three():
    readme = (ROOT / "README.md").read_text()
    shown = set(re.findall(r"!\[[^\]]+\]\(docs/screenshots/([a-z-]+)\.png\)", readme))
    assert shown == set(NAMES), shown
    assert "make screenshots" in readme


def test_recompressing_keeps_the_pixels():
    import zlib

    data = (DIR / f"{NAMES[0]}.png").read_bytes()

    def pixels(png: bytes) -> bytes:
        out, pos = b"", 8
        while pos < len(png):
            length = int.from_bytes(png[pos:pos + 4], "big")
            if png[pos + 4:pos + 8] == b"IDAT":
                out += png[pos + 8:pos + 8 + length]
            pos += 12 + length
        return zlib.decompress(out)

    again = recompress(data)
    assert pixels(again) == pixels(data) and png_size(again) == png_size(data)
