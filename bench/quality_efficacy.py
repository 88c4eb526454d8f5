"""Quality efficacy with planted truth: do the rules catch bad raters early without flagging honest ones,
and how accurate is the consensus?

Synthetic crowd on pairwise tasks (overlap 3, 5% gold): honest workers with accuracy drawn from 0.65-0.95,
10% random spammers, 5% always-"a", 5% too fast (answer at random in ~2 s). Workers judge in rounds (one
judgment each per round, gold mixed in at 5%); after every round the project is scored with
quality.scoring.score_project, the same pure function the Celery job runs, with the default rules
(quality.rules.DEFAULT_RULES). Reported: recall (bad workers flagged) within 30 judgments each, judgments
needed before the flag, false flags among honest workers over the whole run, and consensus accuracy of
majority vote, our Dawid-Skene and crowd-kit's DawidSkene (when importable) on the final data.

--bound adds the random-answering test (rule "random") alone with oracle references, to show how much of the
possible it catches: knowing every task's truth, and knowing the other raters' planted behaviour exactly (the
best reference a rule that compares a worker with the other raters of the same tasks can have).

    .venv/bin/python bench/quality_efficacy.py                  # pairwise a/b/tie (truth 45/45/10)
    .venv/bin/python bench/quality_efficacy.py --no-tie         # pairwise a/b only
    .venv/bin/python bench/quality_efficacy.py --seeds 10 --seed-offset 10 --bound   # other seeds, with bounds
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
from quality.gold import worker_gold_shares  # noqa: E402
from quality.metrics import random_answer_mixture_log_lr  # noqa: E402
from quality.rules import merge_rules  # noqa: E402
from quality.scoring import CATEGORICAL, ProjectData, score_project  # noqa: E402

HONEST, RANDOM, ALWAYS_A, FAST = "honest", "random", "always_a", "fast"
BOUND_REFERENCES = ("truth known", "planted co-raters", "ours (rules' reference)")


def simulate(*, n_workers: int, rounds: int, tie: bool, seed: int, gold_share: float = 0.05):
    """The crowd and its tasks; judgments are made round by round by play_round(sim, r, shares) (each worker's
    gold share for the round: the base share, or the adaptive shares computed after the previous round)."""
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
    gold = {n_real + g: int(truth[n_real + g]) for g in range(n_gold)}
    sim = dict(kinds=kinds, accuracy=accuracy, truth=truth, n_items=n_real + n_gold, n_real=n_real, gold=gold,
               n_gold=n_gold, n_classes=n_classes, rng=rng, speed=speed, gold_share=gold_share,
               slots=np.full(n_real, 3), seen=[set() for _ in range(n_workers)], next_open=0,
               rows={"items": [], "workers": [], "labels": [], "seconds": [], "round_of": [], "gold": []},
               share_log=[])
    _arrays(sim)
    return sim


def play_round(sim, r: int, shares=None) -> None:
    """One judgment per worker (in random order); each is gold with the worker's share for this round."""
    rng, kinds, n_real, n_classes = sim["rng"], sim["kinds"], sim["n_real"], sim["n_classes"]
    shares = np.full(len(kinds), sim["gold_share"]) if shares is None else np.asarray(shares)
    sim["share_log"].append(shares.copy())
    rows, slots, seen = sim["rows"], sim["slots"], sim["seen"]
    for w in rng.permutation(len(kinds)):
        is_gold = False
        if rng.random() < shares[w]:
            candidates = [g for g in rng.permutation(sim["n_gold"])[:5] if n_real + g not in seen[w]]
            if not candidates:
                continue
            item, is_gold = n_real + int(candidates[0]), True
        else:
            i = sim["next_open"]  # tasks are served in id order (closest to completion first, as the queue does)
            while slots[i] == 0 or i in seen[w]:
                i += 1
            item = i
            slots[i] -= 1
            while sim["next_open"] < n_real and slots[sim["next_open"]] == 0:
                sim["next_open"] += 1
        seen[w].add(item)
        t = sim["truth"][item]
        if kinds[w] == HONEST:
            label = t if rng.random() < sim["accuracy"][w] else (t + rng.integers(1, n_classes)) % n_classes
        elif kinds[w] == ALWAYS_A:
            label = 0
        else:
            label = rng.integers(0, n_classes)
        for key, value in (("items", item), ("workers", w), ("labels", label), ("round_of", r), ("gold", is_gold),
                           ("seconds", float(rng.lognormal(np.log(sim["speed"][w]), 0.3)))):
            rows[key].append(value)
    _arrays(sim)


def _arrays(sim) -> None:
    for key, values in sim["rows"].items():
        sim[key if key != "gold" else "is_gold"] = np.array(values, dtype=np.float64 if key == "seconds" else
                                                            bool if key == "gold" else np.int64)


def play_all(sim, rounds: int) -> None:
    for r in range(rounds):
        play_round(sim, r)


def project_data(sim, upto_round: int) -> ProjectData:
    sel = sim["round_of"] <= upto_round
    classes = ["a", "b", "tie"][: sim["n_classes"]]
    return ProjectData(kind=CATEGORICAL, items=sim["items"][sel], workers=sim["workers"][sel],
                       labels=sim["labels"][sel], seconds=sim["seconds"][sel], n_items=sim["n_items"],
                       n_workers=len(sim["kinds"]), classes=classes, gold=sim["gold"])


def crowdkit_answers(sim):
    """crowd-kit's DawidSkene answer per item (-1 without one), or None when crowd-kit is not installed."""
    try:
        import pandas as pd
        from crowdkit.aggregation import DawidSkene
    except ImportError:
        return None
    df = pd.DataFrame({"task": sim["items"], "worker": sim["workers"], "label": sim["labels"]})
    result = DawidSkene(n_iter=100).fit_predict(df)
    predicted = result.reindex(range(sim["n_items"])).to_numpy()
    return np.where(pd.isna(predicted), -1, predicted).astype(np.int64)


def unanimous_correct(sim, real) -> np.ndarray:
    """Real items whose 3 or more raters all gave the same answer, and that answer is the truth."""
    items, labels = sim["items"], sim["labels"]
    n = np.bincount(items, minlength=sim["n_items"])
    top = np.stack([np.bincount(items[labels == c], minlength=sim["n_items"]) for c in range(sim["n_classes"])], 1)
    unanimous = (n >= 3) & (top.max(axis=1) == n)
    return np.flatnonzero(real & unanimous & (top.argmax(axis=1) == sim["truth"]))


def overturned(answers, sim, items) -> int | None:
    """How many of these (unanimous and correct) items a method answers with something else."""
    if answers is None:
        return None
    return int((answers[items] != sim["truth"][items]).sum())


def planted_references(sim, sel) -> dict[str, np.ndarray]:
    """Oracle references for --bound (the rules never see them): per judgment in sel, the probability that its
    answer is the true one (a) knowing the truth, (b) from the item's other raters with their planted behaviour
    known exactly (the best any rule that compares a worker with the other raters of the same tasks can do)."""
    items, workers, labels = sim["items"][sel], sim["workers"][sel], sim["labels"][sel]
    k, kinds, accuracy = sim["n_classes"], sim["kinds"], sim["accuracy"]
    prior = np.array([0.45, 0.45, 0.10] if k == 3 else [0.5, 0.5])
    log_p = np.empty((items.size, k))  # log P(answer | true class t) under each rater's planted behaviour
    for t in range(k):
        honest = np.where(labels == t, accuracy[workers], (1 - accuracy[workers]) / (k - 1))
        log_p[:, t] = np.log(np.where(kinds[workers] == HONEST, honest,
                                      np.where(kinds[workers] == ALWAYS_A, 1.0, 1.0 / k)))
    per_item = np.stack([np.bincount(items, weights=log_p[:, t], minlength=sim["n_items"]) for t in range(k)], 1)
    others = per_item[items] - log_p + np.log(prior)
    others = np.exp(others - others.max(axis=1, keepdims=True))
    exact = (others / others.sum(axis=1, keepdims=True))[np.arange(items.size), labels]
    truth = (labels == sim["truth"][items]).astype(np.float64)
    is_gold = np.isin(items, list(sim["gold"]))
    return {"truth known": truth, "planted co-raters": np.where(is_gold, truth, exact)}


def _count(names) -> dict:
    counts: dict = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def run(args, seed):
    sim = simulate(n_workers=args.workers, rounds=args.rounds, tie=not args.no_tie, seed=seed,
                   gold_share=args.gold_share)
    rules = merge_rules(json.loads(args.rules) if args.rules else None)
    shares = None  # the first round: every worker at the project's gold share
    n_workers = len(sim["kinds"])
    first_flag = np.full(n_workers, -1)
    bound = {name: np.full((args.rounds, n_workers), -np.inf) for name in BOUND_REFERENCES}
    flag_rules: list[tuple] = [()] * len(sim["kinds"])  # the rules that raised each worker's first flag
    started = time.perf_counter()
    for r in range(args.rounds):
        play_round(sim, r, shares)
        score = score_project(project_data(sim, r), rules)
        if not args.flat_gold:
            # What the recompute stores and the claim's gold draw reads (quality.gold), for the next round.
            shares = worker_gold_shares(score.workers, floor=args.gold_share, rules=rules,
                                        cfg=rules.get("adaptive_gold"))
        for w, stats in enumerate(score.workers):
            actionable = [f["rule"] for f in stats["findings"] if f["level"] in ("review", "suspend")]
            if first_flag[w] < 0 and actionable:
                # Judgments this worker had made when the flag was raised.
                first_flag[w] = int(((sim["workers"] == w) & (sim["round_of"] <= r)).sum())
                flag_rules[w] = tuple(sorted(actionable))
        if args.bound:
            sel = sim["round_of"] <= r
            bound["ours (rules' reference)"][r] = [-np.inf if s["random_log_lr"] is None else s["random_log_lr"]
                                                    for s in score.workers]
            for name, reference in planted_references(sim, sel).items():
                # The rule's own statistic (quality.scoring), with an oracle's reference instead of ours.
                llr, _ = random_answer_mixture_log_lr(
                    reference, sim["workers"][sel], n_workers=n_workers, n_options=sim["n_classes"],
                    accuracy_floor=rules["random"]["accuracy_floor"],
                    accuracy_ceiling=rules["random"]["accuracy_ceiling"])
                bound[name][r] = np.nan_to_num(llr, nan=-np.inf)
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
    ck = crowdkit_answers(sim)
    ck_ok = real & (ck >= 0) if ck is not None else None
    unanimous = unanimous_correct(sim, real)
    result = {
        "seed": seed,
        "recall_30": float(flagged_in_30[bad].mean()),
        "recall_by_kind": {k: float(flagged_in_30[kinds == k].mean()) for k in (RANDOM, ALWAYS_A, FAST)},
        "median_judgments_to_flag": {k: float(np.median(first_flag[(kinds == k) & (first_flag > 0)]))
                                     if ((kinds == k) & (first_flag > 0)).any() else None
                                     for k in (RANDOM, ALWAYS_A, FAST)},
        "false_flags": int(((first_flag > 0) & ~bad).sum()), "honest": int((~bad).sum()),
        "false_flag_accuracies": sorted(round(float(a), 3) for a in sim["accuracy"][(first_flag > 0) & ~bad]),
        "false_flag_rules": sorted("+".join(flag_rules[w]) for w in np.flatnonzero((first_flag > 0) & ~bad)),
        "random_caught_by": _count("+".join(flag_rules[w]) for w in np.flatnonzero(flagged_in_30 & (kinds == RANDOM))),
        "mv": float((mv[real] == truth[real]).mean()), "ds": float((ds.answers[real] == truth[real]).mean()),
        "ds_nogold": float((ds_nogold.answers[real] == truth[real]).mean()),
        "crowdkit": None if ck is None else float((ck[ck_ok] == truth[ck_ok]).mean()),
        "unanimous_correct": int(unanimous.size),
        "overturned": {"ours": overturned(ds.answers, sim, unanimous), "majority": overturned(mv, sim, unanimous),
                       "crowd-kit": overturned(ck, sim, unanimous)},
        "scoring_seconds": scoring_seconds,
        "n_judgments": int(len(sim["items"])), "n_bad": int(bad.sum()), "n_random": int((kinds == RANDOM).sum()),
        "n_gold_judgments": int(sim["is_gold"].sum()),
        "gold_share_by_kind": {k: float(sim["is_gold"][kinds[sim["workers"]] == k].mean())
                               for k in (HONEST, RANDOM, ALWAYS_A, FAST)},
    }
    if args.bound:
        # Each worker's highest log LR from the rule's min_n on: random spammers while they had made at most 30
        # judgments, honest workers over the whole run (as the recall and false flags above are counted).
        made = np.stack([np.bincount(sim["workers"][sim["round_of"] <= r], minlength=n_workers)
                         for r in range(args.rounds)])
        looked = made >= rules["random"]["min_n"]
        result["bound"] = {name: (np.where(looked & (made <= 30), L, -np.inf).max(axis=0)[kinds == RANDOM],
                                  np.where(looked, L, -np.inf).max(axis=0)[kinds == HONEST])
                           for name, L in bound.items()}
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=60, help="judgments per worker")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seed-offset", type=int, default=0, help="first seed (seeds offset .. offset+seeds-1)")
    parser.add_argument("--no-tie", action="store_true", help="pairwise a/b only (no tie answers)")
    parser.add_argument("--bound", action="store_true",
                        help="also the random-answering test with oracle references (truth; planted co-raters)")
    parser.add_argument("--gold-share", type=float, default=0.05, help="the project's gold share (the floor)")
    parser.add_argument("--flat-gold", action="store_true",
                        help="every worker at the project's gold share (no adaptive gold): the previous design")
    parser.add_argument("--rules", default="", help='JSON overrides, as QUALITY_RULES: {"agreement": {"margin": 0.05}}')
    args = parser.parse_args()
    totals = {"bad": 0, "caught": 0, "false": 0, "honest": 0, "random": 0, "random_caught": 0, "judgments": 0,
              "gold": 0, "n_a_fast": 0}
    gold = f"{args.gold_share:.0%} gold, " + ("flat" if args.flat_gold else "adaptive")
    print(f"pairwise {'a/b' if args.no_tie else 'a/b/tie'}, {args.workers} workers x {args.rounds} judgments, "
          f"overlap 3, {gold}, rules {args.rules or 'default'}")
    for seed in range(args.seed_offset, args.seed_offset + args.seeds):
        r = run(args, seed)
        n_bad, n_random = r["n_bad"], r["n_random"]
        totals["bad"] += n_bad
        totals["caught"] += round(r["recall_30"] * n_bad)
        totals["random"] += n_random
        totals["random_caught"] += round(r["recall_by_kind"][RANDOM] * n_random)
        totals["false"] += r["false_flags"]
        totals["honest"] += r["honest"]
        totals["judgments"] += r["n_judgments"]
        totals["gold"] += r["n_gold_judgments"]
        totals["n_a_fast"] += r["n_bad"] - r["n_random"]
        for method, n in r["overturned"].items():
            if n is not None:
                totals.setdefault("overturned", {}).setdefault(method, 0)
                totals["overturned"][method] += n
        for name, (spam, honest) in r.get("bound", {}).items():
            pooled = totals.setdefault(name, ([], []))
            pooled[0].append(spam)
            pooled[1].append(honest)
        ck = "n/a (crowd-kit not installed)" if r["crowdkit"] is None else f"{r['crowdkit']:.4f}"
        print(f"seed {seed}: {r['n_judgments']} judgments; recall within 30 = {r['recall_30']:.3f} "
              f"{r['recall_by_kind']}; median judgments to flag {r['median_judgments_to_flag']}; "
              f"random spammers caught by {r['random_caught_by']}; "
              f"false flags {r['false_flags']}/{r['honest']} (accuracies {r['false_flag_accuracies']}, "
              f"rules {r['false_flag_rules']}); "
              f"consensus accuracy: majority {r['mv']:.4f}, ours DS {r['ds']:.4f} (no gold {r['ds_nogold']:.4f}), "
              f"crowd-kit DS {ck}; unanimous-and-correct tasks overturned (of {r['unanimous_correct']}): "
              f"{r['overturned']}; gold share {r['n_gold_judgments'] / r['n_judgments']:.4f} "
              f"(by kind {({k: round(v, 3) for k, v in r['gold_share_by_kind'].items()})}); scoring {args.rounds} checkpoints took {r['scoring_seconds']:.1f} s")
    print(f"TOTAL recall within 30 judgments: {totals['caught']}/{totals['bad']} = "
          f"{totals['caught'] / totals['bad']:.3f} (target >= 0.95; random spammers "
          f"{totals['random_caught']}/{totals['random']} = {totals['random_caught'] / totals['random']:.3f}); "
          "false flags among honest: "
          f"{totals['false']}/{totals['honest']} = {totals['false'] / totals['honest']:.4f} (target <= 0.01)")
    print(f"TOTAL unanimous-and-correct tasks overturned: {totals.get('overturned')} (target: ours 0)")
    print(f"TOTAL gold share of all judgments: {totals['gold']}/{totals['judgments']} = "
          f"{totals['gold'] / totals['judgments']:.4f} (budget: project's {args.gold_share:.0%} + 3 points)")
    if args.bound:
        print_bound(totals, merge_rules(json.loads(args.rules) if args.rules else None)["random"])


def print_bound(totals: dict, cfg: dict) -> None:
    """The random-answering statistic alone, with each reference: random spammers caught within 30 judgments at
    the lowest threshold that flags at most 1% of honest workers over the run (chosen in hindsight, so an upper
    bound for that reference), and at the configured threshold."""
    print(f"BOUND (random-answering SPRT alone, accuracy {cfg['accuracy_floor']}-"
          f"{max(cfg['accuracy_ceiling'], cfg['accuracy_floor'])}, looks from judgment {cfg['min_n']}; random spammers "
          "within 30 / honest ever flagged):")
    for name in BOUND_REFERENCES:
        spam, honest = (np.concatenate(x) for x in totals[name])
        allowed = int(np.floor(0.01 * honest.size))
        threshold = np.sort(honest)[::-1][allowed] if allowed < honest.size else -np.inf
        threshold = np.nextafter(threshold, np.inf)  # strictly above the (allowed + 1)-th highest honest worker
        caught = (spam >= threshold).mean()
        print(f"  {name:26s}: at log LR {threshold:5.2f} (<= 1% honest): {caught:.3f} "
              f"({(honest >= threshold).sum()}/{honest.size} honest); at the rule's {cfg['log_lr']}: "
              f"{(spam >= cfg['log_lr']).mean():.3f} ({(honest >= cfg['log_lr']).sum()}/{honest.size} honest)")
        if name == "truth known":
            # Always-"a" and too-fast raters are caught by the other rules in every run: the bound for all bad
            # raters counts them as caught and the random spammers at this bound.
            all_bad = (totals["n_a_fast"] + caught * spam.size) / totals["bad"]
            ours_all = totals["caught"] / totals["bad"]
            ours_random = totals["random_caught"] / totals["random"]
            print(f"  truth-known bound, all bad raters: {all_bad:.3f}; ours {ours_all:.3f} = "
                  f"{ours_all / all_bad:.1%} of it; random spammers: ours {ours_random:.3f} = "
                  f"{ours_random / caught:.1%} of the bound {caught:.3f}")


if __name__ == "__main__":
    main()
