"""Quality efficacy with planted truth: do the rules catch bad raters early without flagging honest ones,
and how accurate is the consensus?

Synthetic crowd on pairwise tasks (overlap 3, 5% gold): honest workers with accuracy drawn from 0.65-0.95,
10% random spammers, 5% always-"a", 5% too fast (answer at random in ~2 s). Workers judge in rounds (one
judgment each per round, gold mixed in at 5%); after every round the project is scored with
quality.scoring.score_project, the same pure function the Celery job runs, with the default rules
(quality.rules.DEFAULT_RULES). Reported: recall (bad workers flagged) within 30 judgments each, judgments
needed before the flag, false flags among honest workers over the whole run, and consensus accuracy of
majority vote, our Dawid-Skene and crowd-kit's DawidSkene (when importable) on the final data.

    .venv/bin/python bench/quality_efficacy.py                  # pairwise a/b/tie (truth 45/45/10)
    .venv/bin/python bench/quality_efficacy.py --no-tie         # pairwise a/b only
    /tmp/qbench/bin/python bench/quality_efficacy.py            # with crowd-kit (requirements-bench.txt)
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quality.consensus import dawid_skene, majority_vote  # noqa: E402
from quality.rules import merge_rules  # noqa: E402
from quality.scoring import CATEGORICAL, ProjectData, score_project  # noqa: E402

HONEST, RANDOM, ALWAYS_A, FAST = "honest", "random", "always_a", "fast"


def simulate(*, n_workers: int, rounds: int, tie: bool, seed: int):
    rng = np.random.default_rng(seed)
    kinds = np.array([HONEST] * n_workers, dtype=object)
    order = rng.permutation(n_workers)
    n_random, n_a, n_fast = round(0.10 * n_workers), round(0.05 * n_workers), round(0.05 * n_workers)
    kinds[order[:n_random]] = RANDOM
    kinds[order[n_random:n_random + n_a]] = ALWAYS_A
    kinds[order[n_random + n_a:n_random + n_a + n_fast]] = FAST
    accuracy = rng.uniform(0.65, 0.95, n_workers)
    n_classes = 3 if tie else 2
    prior = [0.45, 0.45, 0.10] if tie else [0.5, 0.5]
    n_real = int(np.ceil(n_workers * rounds * 0.95 / 3)) + n_workers
    n_gold = max(10, int(0.05 * n_real))
    truth = rng.choice(n_classes, n_real + n_gold, p=prior)
    speed = np.where(kinds == FAST, 2.0, rng.uniform(25, 90, n_workers))  # median seconds per worker

    items, workers, labels, seconds, round_of = [], [], [], [], []
    slots = np.full(n_real, 3)
    seen = [set() for _ in range(n_workers)]
    next_open = 0  # tasks are served in id order (closest to completion first, as the queue does)
    for r in range(rounds):
        for w in rng.permutation(n_workers):
            if rng.random() < 0.05:
                candidates = [g for g in rng.permutation(n_gold)[:5] if n_real + g not in seen[w]]
                if not candidates:
                    continue
                item = n_real + int(candidates[0])
            else:
                i = next_open
                while slots[i] == 0 or i in seen[w]:
                    i += 1
                item = i
                slots[i] -= 1
                while next_open < n_real and slots[next_open] == 0:
                    next_open += 1
            seen[w].add(item)
            t = truth[item]
            if kinds[w] == HONEST:
                if rng.random() < accuracy[w]:
                    label = t
                else:
                    label = (t + rng.integers(1, n_classes)) % n_classes
            elif kinds[w] == ALWAYS_A:
                label = 0
            else:
                label = rng.integers(0, n_classes)
            items.append(item)
            workers.append(w)
            labels.append(label)
            seconds.append(float(rng.lognormal(np.log(speed[w]), 0.3)))
            round_of.append(r)
    gold = {n_real + g: int(truth[n_real + g]) for g in range(n_gold)}
    return dict(kinds=kinds, accuracy=accuracy, truth=truth, n_items=n_real + n_gold, n_real=n_real, gold=gold,
                items=np.array(items), workers=np.array(workers), labels=np.array(labels),
                seconds=np.array(seconds), round_of=np.array(round_of), n_classes=n_classes)


def project_data(sim, upto_round: int) -> ProjectData:
    sel = sim["round_of"] <= upto_round
    classes = ["a", "b", "tie"][: sim["n_classes"]]
    return ProjectData(kind=CATEGORICAL, items=sim["items"][sel], workers=sim["workers"][sel],
                       labels=sim["labels"][sel], seconds=sim["seconds"][sel], n_items=sim["n_items"],
                       n_workers=len(sim["kinds"]), classes=classes, gold=sim["gold"])


def crowdkit_accuracy(sim, real):
    try:
        import pandas as pd
        from crowdkit.aggregation import DawidSkene
    except ImportError:
        return None
    df = pd.DataFrame({"task": sim["items"], "worker": sim["workers"], "label": sim["labels"]})
    result = DawidSkene(n_iter=100).fit_predict(df)
    predicted = result.reindex(range(sim["n_items"])).to_numpy()
    ok = ~pd.isna(predicted)
    mask = real & ok
    return float((predicted[mask].astype(int) == sim["truth"][mask]).mean())


def run(args, seed):
    sim = simulate(n_workers=args.workers, rounds=args.rounds, tie=not args.no_tie, seed=seed)
    rules = merge_rules(json.loads(args.rules) if args.rules else None)
    first_flag = np.full(len(sim["kinds"]), -1)
    started = time.perf_counter()
    for r in range(args.rounds):
        score = score_project(project_data(sim, r), rules)
        for w, stats in enumerate(score.workers):
            if first_flag[w] < 0 and any(f["level"] in ("review", "suspend") for f in stats["findings"]):
                # Judgments this worker had made when the flag was raised.
                first_flag[w] = int(((sim["workers"] == w) & (sim["round_of"] <= r)).sum())
    scoring_seconds = time.perf_counter() - started

    kinds = sim["kinds"]
    bad = kinds != HONEST
    flagged_in_30 = (first_flag > 0) & (first_flag <= 30)
    # Consensus accuracy on the real (non-gold) tasks with judgments, on all the data.
    real = np.zeros(sim["n_items"], dtype=bool)
    real[: sim["n_real"]] = np.bincount(sim["items"], minlength=sim["n_items"])[: sim["n_real"]] > 0
    mv, _ = majority_vote(sim["items"], sim["labels"], n_items=sim["n_items"], n_classes=sim["n_classes"])
    ds = dawid_skene(sim["items"], sim["workers"], sim["labels"], n_items=sim["n_items"], n_workers=len(kinds),
                     n_classes=sim["n_classes"], gold=sim["gold"])
    ds_nogold = dawid_skene(sim["items"], sim["workers"], sim["labels"], n_items=sim["n_items"],
                            n_workers=len(kinds), n_classes=sim["n_classes"])
    truth = sim["truth"]
    result = {
        "seed": seed,
        "recall_30": float(flagged_in_30[bad].mean()),
        "recall_by_kind": {k: float(flagged_in_30[kinds == k].mean()) for k in (RANDOM, ALWAYS_A, FAST)},
        "median_judgments_to_flag": {k: float(np.median(first_flag[(kinds == k) & (first_flag > 0)]))
                                     if ((kinds == k) & (first_flag > 0)).any() else None
                                     for k in (RANDOM, ALWAYS_A, FAST)},
        "false_flags": int(((first_flag > 0) & ~bad).sum()), "honest": int((~bad).sum()),
        "false_flag_accuracies": sorted(round(float(a), 3) for a in sim["accuracy"][(first_flag > 0) & ~bad]),
        "mv": float((mv[real] == truth[real]).mean()), "ds": float((ds.answers[real] == truth[real]).mean()),
        "ds_nogold": float((ds_nogold.answers[real] == truth[real]).mean()),
        "crowdkit": crowdkit_accuracy(sim, real), "scoring_seconds": scoring_seconds,
        "n_judgments": int(len(sim["items"])),
    }
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=60, help="judgments per worker")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--no-tie", action="store_true", help="pairwise a/b only (no tie answers)")
    parser.add_argument("--rules", default="", help='JSON overrides, as QUALITY_RULES: {"agreement": {"margin": 0.05}}')
    args = parser.parse_args()
    totals = {"bad": 0, "caught": 0, "false": 0, "honest": 0}
    print(f"pairwise {'a/b' if args.no_tie else 'a/b/tie'}, {args.workers} workers x {args.rounds} judgments, "
          f"overlap 3, 5% gold, rules {args.rules or 'default'}")
    for seed in range(args.seeds):
        r = run(args, seed)
        n_bad = round(0.2 * args.workers)
        totals["bad"] += n_bad
        totals["caught"] += round(r["recall_30"] * n_bad)
        totals["false"] += r["false_flags"]
        totals["honest"] += r["honest"]
        ck = "n/a (crowd-kit not installed)" if r["crowdkit"] is None else f"{r['crowdkit']:.4f}"
        print(f"seed {seed}: {r['n_judgments']} judgments; recall within 30 = {r['recall_30']:.3f} "
              f"{r['recall_by_kind']}; median judgments to flag {r['median_judgments_to_flag']}; "
              f"false flags {r['false_flags']}/{r['honest']} (accuracies {r['false_flag_accuracies']}); "
              f"consensus accuracy: majority {r['mv']:.4f}, ours DS {r['ds']:.4f} (no gold {r['ds_nogold']:.4f}), "
              f"crowd-kit DS {ck}; scoring {args.rounds} checkpoints took {r['scoring_seconds']:.1f} s")
    print(f"TOTAL recall within 30 judgments: {totals['caught']}/{totals['bad']} = "
          f"{totals['caught'] / totals['bad']:.3f} (target >= 0.95); false flags among honest: "
          f"{totals['false']}/{totals['honest']} = {totals['false'] / totals['honest']:.4f} (target <= 0.01)")


if __name__ == "__main__":
    main()
