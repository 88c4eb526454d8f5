"""What the code and the docs cite exists: every docs/<name>.md named in a comment, a docstring or a
Markdown link is in the repository (the design once lived only outside it)."""

import re

from tests.conftest import ROOT

SOURCES = ("marketplace", "workers", "tasks", "quality", "payments", "tests", "bench", "docs", "examples")


def _files():
    yield ROOT / "README.md"
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".md"} and "__pycache__" not in path.parts:
                yield path


def test_every_cited_doc_exists():
    missing = []
    for path in _files():
        text = path.read_text()
        for name in re.findall(r"\bdocs/([\w.-]+\.md)", text):
            if not (ROOT / "docs" / name).is_file():
                missing.append(f"{path.relative_to(ROOT)}: docs/{name}")
        if path.parent == ROOT / "docs":
            for name in re.findall(r"\]\(([\w.-]+\.md)(?:#[\w-]*)?\)", text):
                if not (ROOT / "docs" / name).is_file():
                    missing.append(f"{path.relative_to(ROOT)}: {name}")
        for cited in re.findall(r"\b(DESIGN|API)\.md\b", text):  # the brief, outside the repository
            missing.append(f"{path.relative_to(ROOT)}: {cited}.md (cite docs/{cited.lower()}.md)")
    assert missing == []


def test_design_names_the_invariants_the_code_cites():
    design = (ROOT / "docs" / "design.md").read_text()
    numbers = set()
    for path in _files():
        for found in re.findall(r"docs/design\.md invariants? (\d+)(?:-(\d+))?", path.read_text()):
            first, last = int(found[0]), int(found[1] or found[0])
            numbers.update(range(first, last + 1))
    assert numbers, "the code cites docs/design.md invariants"
    for n in sorted(numbers):
        assert re.search(rf"^{n}\. \*\*", design, re.M), f"docs/design.md has no invariant {n}"
    assert "## Lock order" in design and "## Flows" in design and "## Apps" in design
