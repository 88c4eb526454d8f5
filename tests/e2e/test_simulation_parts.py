"""The simulation's own building blocks (no server needed): the bundled dataset, planted behaviours,
the quiz-taking logic, the webhook receiver's signature check, latency percentiles, mail parsing."""

import hashlib
import hmac
import json
import random
import time
from collections import Counter

import pytest
import requests

from simulation import behaviours as bh
from simulation import dataset
from simulation.http import Stats
from simulation.mailbox import verification_key
from simulation.receiver import SIGNATURE_HEADER, WebhookReceiver, signature_valid
from simulation.report import preference_yield


def test_bundled_dataset_has_enough_real_looking_items_per_language():
    pairs = dataset.load_pairs()
    languages = Counter(p.language for p in pairs)
    assert languages["python"] >= 40 and languages["javascript"] >= 25
    assert {p.bug for p in pairs} == set(dataset.BUG_CATEGORIES)
    for p in pairs:
        assert p.correct_code != p.buggy_code and p.prompt.strip(), p.id


def test_bundled_python_completions_compile():
    for p in dataset.load_pairs():
        if p.language == "python":
            for side in ("a", "b"):
                compile(p.completions[side], p.id, "exec")


def test_dataset_loader_rejects_a_malformed_item(tmp_path):
    bad = {"items": [{"id": "x", "language": "python", "prompt": "p", "completions": {"a": "1", "b": "1"},
                      "correct": "a", "bug": "off_by_one"}]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="identical"):
        dataset.load_pairs(path)
    bad["items"][0].update(completions={"a": "1", "b": "2"}, bug="typo")
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="unknown bug category"):
        dataset.load_pairs(path)


def test_build_tasks_randomises_sides_keeps_truth_and_only_gold_carries_the_answer():
    regular, gold = dataset.build_tasks(n_tasks=150, n_gold=20, seed=3, prefix="t")
    assert len(regular) == 150 and len(gold) == 20
    assert len({t.external_id for t in regular + gold}) == 170
    truths = Counter(t.truth for t in regular)
    assert truths["a"] > 40 and truths["b"] > 40  # both sides hold the correct completion
    pairs = {p.id: p for p in dataset.load_pairs()}
    for t in regular + gold:
        assert t.data["response_" + t.truth] == pairs[t.item_id].correct_code
    assert all("gold" not in t.upload_row() for t in regular)
    assert all(t.upload_row()["gold"] == {"choice": t.truth} for t in gold)
    again, _ = dataset.build_tasks(n_tasks=150, n_gold=20, seed=3, prefix="t")
    assert [t.truth for t in again] == [t.truth for t in regular]


@pytest.mark.parametrize("seed", range(6))
def test_a_gold_task_never_looks_like_a_regular_one_while_the_items_allow(seed):
    """The simulated workers know what they were served only by its data: a gold task with a regular task's
    data would be counted as gold wherever either was served (the gold_share chart counted about 1.4 times
    the gold the server had served)."""
    n_variants = 2 * len(dataset.load_pairs())  # each item in either side order
    regular, gold = dataset.build_tasks(n_tasks=100, n_gold=25, seed=seed, prefix="t")
    assert 100 + 25 <= n_variants
    seen = {dataset.data_key(t.data) for t in regular}
    assert not [t.external_id for t in gold if dataset.data_key(t.data) in seen]
    assert len({dataset.data_key(t.data) for t in gold}) == 25
    pairs = {p.id: p for p in dataset.load_pairs()}
    assert all(t.data["response_" + t.truth] == pairs[t.item_id].correct_code for t in gold)


def test_assign_behaviours_honours_shares_and_keeps_small_groups():
    kinds = bh.assign_behaviours(n_workers=20, spammer_share=0.15, always_a_share=0.05, fast_share=0.05,
                                 rng=random.Random(1))
    counts = Counter(kinds)
    assert counts[bh.Behaviour.SPAMMER] == 3 and counts[bh.Behaviour.ALWAYS_A] == 1 and counts[bh.Behaviour.FAST] == 1
    assert counts[bh.Behaviour.CAREFUL] + counts[bh.Behaviour.AVERAGE] == 15
    with pytest.raises(ValueError):
        bh.assign_behaviours(n_workers=5, spammer_share=0.8, always_a_share=0.3, fast_share=0, rng=random.Random(1))


def test_planted_accuracies_are_what_the_behaviours_say():
    rng = random.Random(5)

    def accuracy(kind):
        truths = [rng.choice("ab") for _ in range(4000)]
        return sum(bh.choose_answer(kind, truth=t, bug="off_by_one", rng=rng)["choice"] == t for t in truths) / 4000

    assert 0.9 < accuracy(bh.Behaviour.CAREFUL) < 0.94
    assert 0.72 < accuracy(bh.Behaviour.AVERAGE) < 0.78
    assert 0.46 < accuracy(bh.Behaviour.SPAMMER) < 0.54
    assert all(bh.choose_answer(bh.Behaviour.ALWAYS_A, truth="b", bug="", rng=rng)["choice"] == "a" for _ in range(50))
    assert max(bh.seconds_spent(bh.Behaviour.FAST, rng) for _ in range(200)) <= 3.0


def test_quiz_answers_find_the_right_option_by_content_whatever_the_labels():
    question = {"id": 9, "kind": "pick_better", "prompt": "Which?", "code": "",
                "options": [{"label": "a", "text": "", "code": "bad()"}, {"label": "b", "text": "", "code": "good()"}]}
    key = {"9": [bh.fingerprint({"text": "", "code": "good()"})]}
    rng = random.Random(0)
    assert bh.quiz_answers([question], key, fail=False, rng=rng) == {"9": "b"}
    assert bh.quiz_answers([question], key, fail=True, rng=rng) == {"9": "a"}


def _signed(secret: str, body: bytes, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    return f"t={t},v1=" + hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def test_receiver_accepts_signed_calls_and_rejects_forged_or_stale_ones():
    receiver = WebhookReceiver().start()
    receiver.secret = "s3cret"
    try:
        body = json.dumps({"type": "task.completed", "data": {}}).encode()
        ok = requests.post(receiver.url, data=body, headers={SIGNATURE_HEADER: _signed("s3cret", body)}, timeout=5)
        forged = requests.post(receiver.url, data=body, headers={SIGNATURE_HEADER: _signed("other", body)}, timeout=5)
        stale = requests.post(receiver.url, data=body,
                              headers={SIGNATURE_HEADER: _signed("s3cret", body, int(time.time()) - 3600)}, timeout=5)
        assert (ok.status_code, forged.status_code, stale.status_code) == (200, 400, 400)
        assert receiver.event_types() == {"task.completed": 1} and receiver.rejected == 2
    finally:
        receiver.stop()
    assert not signature_valid(None, b"", "s") and not signature_valid("t=x,v1=y", b"", "s")


def test_stats_percentiles_are_nearest_rank():
    stats = Stats()
    for ms in range(1, 101):
        stats.record("claim", ms / 1000, 201)
    summary = stats.summary()["claim"]
    assert (summary["p50_ms"], summary["p95_ms"], summary["n"]) == (50.0, 95.0, 100)


def test_verification_key_is_read_from_the_file_backend(tmp_path, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    from django.core.mail import send_mail

    link = "http://127.0.0.1:8000/account/verify-email/MQ%3A1vabc%3Axyz"
    send_mail("Please confirm", f"Hello,\n\nfollow {link}\nthanks", "m@localhost", ["Ada@Example.com"])
    send_mail("Other", "no link here", "m@localhost", ["bob@example.com"])
    assert verification_key("ada@example.com", timeout=1) == "MQ:1vabc:xyz"
    with pytest.raises(TimeoutError):
        verification_key("nobody@example.com", timeout=0.3)


def test_preference_yield_counts_pairs_by_confidence_and_cost(tmp_path):
    pairs = [{"confidence": c} for c in (0.95, 0.92, 0.8, 0.6, 0.3)]
    correct = [True, True, True, False, False]
    summary = {"pairs": 5, "tasks_exported": 5, "ties": 1, "unresolved": 2, "open_tasks": 0}
    out = preference_yield(pairs, summary, {"X-Export-Pairs": "5"}, judgments=30, worker_hours=2.5, correct=correct)
    assert out["pairs"] == 5 and out["ties"] == 1 and out["unresolved"] == 2
    assert out["confidence"] == {"mean": 0.714, "median": 0.8, "p10": 0.3, "min": 0.3}
    assert out["by_confidence"] == {"0.9-1.0": {"pairs": 2, "chosen_is_correct": 1.0},
                                    "0.7-0.9": {"pairs": 1, "chosen_is_correct": 1.0},
                                    "0.5-0.7": {"pairs": 1, "chosen_is_correct": 0.0},
                                    "under 0.5": {"pairs": 1, "chosen_is_correct": 0.0}}
    assert out["judgments_per_pair"] == 6.0 and out["pairs_per_worker_hour"] == 2.0
    assert out["chosen_is_correct"] == 0.6 and out["counts_agree"] is True
    # A header that disagrees with the body is caught.
    assert preference_yield(pairs, summary, {"x-export-pairs": "6"}, judgments=30, worker_hours=2.5,
                            correct=correct)["counts_agree"] is False
    empty = preference_yield([], None, {}, judgments=0, worker_hours=0, correct=[])
    assert empty["confidence"]["mean"] is None and empty["judgments_per_pair"] is None and not empty["counts_agree"]

    from simulation.charts import preference_confidence
    preference_confidence({"export": out}, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
