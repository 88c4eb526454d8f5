"""docs/security.md names, for each threat, the test that proves it is stopped: every such name exists."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"


def _references():
    """(line, file, [test names]) for each `path.py::test` reference, with the `::test` shorthand that
    follows one reusing its file."""
    refs = []
    for number, line in enumerate(DOC.read_text().splitlines(), 1):
        current = None
        for token in re.findall(r"`([^`]+)`", line):
            match = re.fullmatch(r"((?:\w+/)+test_\w+\.py)(?:::(\w+))?", token)
            if match:
                current = match.group(1)
                refs.append((number, current, [match.group(2)] if match.group(2) else []))
            elif re.fullmatch(r"::\w+", token) and current:
                refs[-1][2].append(token[2:])
    return refs


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_test_the_threat_model_names_exists():
    refs = _references()
    assert len(refs) >= 30, "the threat model names its tests as `file.py::test`"
    missing = []
    for line, name, tests in refs:
        path = ROOT / "tests" / name
        if not path.exists():
            missing.append(f"docs/security.md:{line}: tests/{name} does not exist")
            continue
        defined = _functions(path)
        missing += [f"docs/security.md:{line}: tests/{name} has no {test}" for test in tests if test not in defined]
    assert missing == [], "\n".join(missing)
