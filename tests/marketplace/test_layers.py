"""The app order of docs/design.md, held: the import-linter contracts of pyproject.toml (also run by
.ci/run as `lint-imports`), and the upward hooks all connected."""

import subprocess
import sys
from pathlib import Path

import pytest

from marketplace import events

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_the_design_doc_states_the_order_the_contract_holds():
    pyproject = (ROOT / "pyproject.toml").read_text()
    design = (ROOT / "docs" / "design.md").read_text()
    assert 'layers = ["simulation | webapp", "quality", "payments", "tasks", "workers", "marketplace", "sandbox"]' in pyproject
    assert "sandbox < marketplace < workers < tasks < payments < quality < simulation | webapp" in design


@pytest.mark.parametrize("hook", events.ALL, ids=lambda h: h.name)
def test_every_upward_hook_has_exactly_one_receiver_from_the_app_above(hook):
    """Connected once each in AppConfig.ready() (a second ready() must not connect twice: a submit would
    credit twice); by the app the hook names."""
    (receiver,) = hook.receivers
    assert receiver.__module__.split(".")[0] == hook.receiver_app


def test_a_hook_without_receiver_refuses_rather_than_doing_nothing():
    hook = events.Hook("nobody_listens", receiver_app="quality")
    with pytest.raises(events.HookNotConnected, match="quality"):
        hook.send(x=1)
    with pytest.raises(events.HookNotConnected):
        hook.ask(x=1)
    hook.connect(lambda **kw: kw["x"] + 1)
    assert hook.ask(x=1) == 2
