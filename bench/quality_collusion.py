"""Quality against cheating workforces (issue 28): rings, copiers, sleepers, gold-detectors and the blunt cheats,
mixed into an honest crowd, against the pure scoring path (quality.scoring.score_project with the default rules
and adaptive gold, as bench/quality_efficacy.py, whose crowd simulation this reuses).

Crowd (per seed, 300 workers x 60 judgments, pairwise a/b/tie with truth 45/45/10, overlap 3, 5% gold floor):
honest workers with accuracy drawn from 0.65-0.95 and, 8 of each (2 rings of 4):
- ring: 4 colluders giving one shared answer per task (a random answer, the same for all of them: no work done)
  and claiming back to back, so the queue (closest to completion first) puts several of them on the same task;
- copier: answers what most of the task's earlier raters gave (a random answer when nobody has answered yet);
- sleeper: honest for 15 judgments, then random;
- gold_detector: random on real tasks; on gold, tells it apart half the time and then answers it right;
- position: answers "a" 70% of the time, otherwise honestly;
- flipper: judges honestly, then swaps a and b;
- tie: always "tie".

Reported per behaviour: share caught (a review or suspend finding) within 30 judgments (sleepers: after their
15th and within 20 of turning, i.e. by their 35th; flagged while still honest is counted apart), median
judgments to the flag, which rules caught them, their gold share; false flags (honest workers flagged over the
whole run); mean gold share; consensus accuracy (the scoring's final answers) on real tasks any cheater touched
against tasks only honest workers judged, with two bounds for the touched tasks: Dawid-Skene on the same data
without the cheaters' judgments (truth known: who cheats; no new judgments), and the share of touched tasks with
no honest rater at all (no rule can recover those without requeueing them).

    .venv/bin/python bench/quality_collusion.py --seeds 10                   # seeds 0-9 (thresholds chosen here)
    .venv/bin/python bench/quality_collusion.py --seeds 10 --seed-offset 10  # held-out seeds 10-19
    .venv/bin/python bench/quality_collusion.py --baseline                   # the rules before issue 28
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quality_efficacy import _arrays, project_data, simulate  # noqa: E402

from quality.consensus import dawid_skene  # noqa: E402
from quality.gold import worker_gold_shares  # noqa: E402
from quality.metrics import cusum_log_lr  # noqa: E402
from quality.rules import merge_rules  # noqa: E402
from quality.scoring import score_project  # noqa: E402

HONEST = "honest"
BEHAVIOURS = ("ring", "copier", "sleeper", "gold_detector", "position", "flipper", "tie")
PER_BEHAVIOUR = 8
RING_SIZE = 4
SLEEPER_HONEST = 15
SLEEPER_WINDOW = 20
WITHIN = 30
# The rules as they were before issue 28 (each new check switched off), for the baseline column.
BASELINE_RULES = {"change": {"enabled": False}, "gold_record": {"enabled": False}, "collusion": {"enabled": False},
                  "random": {"real_only_log_lr": 0}, "adaptive_gold": {"split_signals": 0}}


def crowd(*, n_workers: int, rounds: int, seed: int, gold_share: float):
    sim = simulate(n_workers=n_workers, rounds=rounds, tie=True, seed=seed, gold_share=gold_share)
    rng = sim["rng"]
    kinds = np.array([HONEST] * n_workers, dtype=object)
    order = rng.permutation(n_workers)
    for b, behaviour in enumerate(BEHAVIOURS):
        kinds[order[b * PER_BEHAVIOUR:(b + 1) * PER_BEHAVIOUR]] = behaviour
    ring_of = np.full(n_workers, -1)
    members = np.flatnonzero(kinds == "ring")
    for r in range(len(members) // RING_SIZE):
        ring_of[members[r * RING_SIZE:(r + 1) * RING_SIZE]] = r
    sim.update(kinds=kinds, ring_of=ring_of, made=np.zeros(n_workers, dtype=np.int64),
               ring_answer=rng.integers(0, 3, (max(1, ring_of.max() + 1), sim["n_items"])),
               given=[[] for _ in range(sim["n_items"])])
    # The efficacy crowd's "too fast" raters are honest-speed here: this bench is about answers, not timing.
    sim["speed"] = rng.uniform(25, 90, n_workers)
    return sim


def claim_order(sim) -> list[int]:
    """Workers in random order, except that a ring's members claim one after another (when its first member
    comes up): the queue then serves them the same tasks."""
    order, done = [], set()
    for w in sim["rng"].permutation(len(sim["kinds"])):
        ring = sim["ring_of"][w]
        if ring < 0:
            order.append(int(w))
        elif ring not in done:
            done.add(ring)
            order.extend(int(m) for m in np.flatnonzero(sim["ring_of"] == ring))
    return order


def answer(sim, w: int, item: int, is_gold: bool) -> int:
    rng, kind, t, k = sim["rng"], sim["kinds"][w], int(sim["truth"][item]), sim["n_classes"]

    def honest():
        return t if rng.random() < sim["accuracy"][w] else int((t + rng.integers(1, k)) % k)

    if kind == HONEST or (kind == "sleeper" and sim["made"][w] < SLEEPER_HONEST):
        return honest()
    if kind == "ring":
        return int(sim["ring_answer"][sim["ring_of"][w], item])
    if kind == "copier":
        earlier = sim["given"][item]
        if not earlier:
            return int(rng.integers(0, k))
        counts = np.bincount(earlier, minlength=k)
        return int(rng.choice(np.flatnonzero(counts == counts.max())))
    if kind == "gold_detector" and is_gold and rng.random() < 0.5:
        return t
    if kind == "position":
        return 0 if rng.random() < 0.7 else honest()
    if kind == "flipper":
        given = honest()
        return {0: 1, 1: 0}.get(given, given)
    if kind == "tie":
        return 2
    return int(rng.integers(0, k))  # sleeper after turning, gold_detector otherwise


def play_round(sim, r: int, shares) -> None:
    rng, n_real = sim["rng"], sim["n_real"]
    shares = np.full(len(sim["kinds"]), sim["gold_share"]) if shares is None else np.asarray(shares)
    rows, slots, seen = sim["rows"], sim["slots"], sim["seen"]
    for w in claim_order(sim):
        is_gold = False
        if rng.random() < shares[w]:
            candidates = [g for g in rng.permutation(sim["n_gold"])[:5] if n_real + g not in seen[w]]
            if not candidates:
                continue
            item, is_gold = n_real + int(candidates[0]), True
        else:
            i = sim["next_open"]
            while slots[i] == 0 or i in seen[w]:
                i += 1
            item = i
            slots[i] -= 1
            while sim["next_open"] < n_real and slots[sim["next_open"]] == 0:
                sim["next_open"] += 1
        seen[w].add(item)
        label = answer(sim, w, item, is_gold)
        sim["given"][item].append(label)
        sim["made"][w] += 1
        for key, value in (("items", item), ("workers", w), ("labels", label), ("round_of", r), ("gold", is_gold),
                           ("seconds", float(rng.lognormal(np.log(sim["speed"][w]), 0.3)))):
            rows[key].append(value)
    _arrays(sim)


def run(args, seed: int, rules: dict) -> dict:
    sim = crowd(n_workers=args.workers, rounds=args.rounds, seed=seed, gold_share=args.gold_share)
    n_workers, kinds = len(sim["kinds"]), sim["kinds"]
    shares, score = None, None
    first_flag = np.full(n_workers, -1)
    flag_rules: list[tuple] = [()] * n_workers
    trace: list[dict] = []
    for r in range(args.rounds):
        play_round(sim, r, shares)
        score = score_project(project_data(sim, r), rules)
        shares = worker_gold_shares(score.workers, floor=args.gold_share, rules=rules)
        if args.dump:
            trace.append({key: np.array([np.nan if st.get(key) is None else st[key] for st in score.workers])
                          for key in TRACE_KEYS})
            trace[-1]["old_flag"] = np.array([_old_flag(st, rules) for st in score.workers])
        for w, stats in enumerate(score.workers):
            actionable = sorted({f["rule"] for f in stats["findings"] if f["level"] in ("review", "suspend")})
            if first_flag[w] < 0 and actionable:
                first_flag[w] = int(((sim["workers"] == w) & (sim["round_of"] <= r)).sum())
                flag_rules[w] = tuple(actionable)
    items, workers, truth = sim["items"], sim["workers"], sim["truth"]
    n_items, n_real = sim["n_items"], sim["n_real"]
    answers = np.array([-1 if a is None else a for a in score.answers])
    judged = np.bincount(items, minlength=n_items)[:n_real] > 0
    cheat_j = kinds[workers] != HONEST
    touched = np.zeros(n_items, dtype=bool)
    touched[items[cheat_j]] = True
    touched = touched[:n_real] & judged
    honest_only = judged & ~touched
    honest_any = np.zeros(n_items, dtype=bool)
    honest_any[items[~cheat_j]] = True
    keep = ~cheat_j
    clean = dawid_skene(items[keep], workers[keep], sim["labels"][keep], n_items=n_items, n_workers=n_workers,
                        n_classes=sim["n_classes"], gold=sim["gold"])
    correct = answers[:n_real] == truth[:n_real]
    result = {"seed": seed, "kinds": kinds, "first_flag": first_flag, "flag_rules": flag_rules,
              "gold_by_worker": np.bincount(workers[sim["is_gold"]], minlength=n_workers),
              "judgments_by_worker": np.bincount(workers, minlength=n_workers),
              "n_gold": int(sim["is_gold"].sum()), "n_judgments": int(items.size),
              "touched_ok": int(correct[touched].sum()), "touched_n": int(touched.sum()),
              "honest_ok": int(correct[honest_only].sum()), "honest_n": int(honest_only.sum()),
              "touched_clean_ok": int((clean.answers[:n_real] == truth[:n_real])[touched].sum()),
              "touched_no_honest": int((touched & ~honest_any[:n_real]).sum()),
              "by_behaviour_touched": {}, "trace": trace}
    # The truth-known bound for sleepers (the change rule's CUSUM with every judgment graded against the truth):
    # each sleeper's highest CUSUM from their 16th to their 35th judgment, each honest worker's over the run.
    right = (sim["labels"] == truth[items]).astype(np.float64)
    rank = np.zeros(items.size, dtype=np.int64)
    for w in range(n_workers):
        rows = np.flatnonzero(workers == w)
        rank[rows] = np.arange(rows.size)
    accuracy = float(rules["change"]["accuracy"])
    honest_rows = kinds[workers] == HONEST
    best, _, _, _ = cusum_log_lr(right[honest_rows], workers[honest_rows], n_workers=n_workers, n_options=3,
                                 accuracy=accuracy, min_n=int(rules["change"]["min_n"]))
    sleeper_rows = (kinds[workers] == "sleeper") & (rank < SLEEPER_HONEST + SLEEPER_WINDOW)
    s_best, _, _, _ = cusum_log_lr(right[sleeper_rows], workers[sleeper_rows], n_workers=n_workers, n_options=3,
                                   accuracy=accuracy, min_n=SLEEPER_HONEST + 1)
    result["bound_cusum"] = (best[kinds == HONEST], s_best[kinds == "sleeper"])
    for b in BEHAVIOURS:
        t = np.zeros(n_items, dtype=bool)
        t[items[kinds[workers] == b]] = True
        t = t[:n_real] & judged
        result["by_behaviour_touched"][b] = (int(correct[t].sum()), int(t.sum()))
    return result


TRACE_KEYS = ("n_judgments", "change_log_lr", "change_length", "gold_log_lr", "gold_n", "real_log_lr", "real_n")


def _old_flag(stats: dict, rules: dict) -> bool:
    """Flagged by the rules as they were before issue 28 (for tuning the new thresholds offline: --dump)."""
    for f in stats["findings"]:
        if f["level"] not in ("review", "suspend") or f["rule"] in ("change", "gold_record"):
            continue
        if f["rule"] != "random":
            return True
        e = f["evidence"]
        if e["random_n"] >= rules["random"]["min_n"] and e["log_lr"] >= rules["random"]["log_lr"]:
            return True
    return False


def caught(kind: str, first_flag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(caught within the window, flagged before the behaviour began) per worker of this kind."""
    if kind == "sleeper":
        return ((first_flag > SLEEPER_HONEST) & (first_flag <= SLEEPER_HONEST + SLEEPER_WINDOW),
                (first_flag > 0) & (first_flag <= SLEEPER_HONEST))
    return (first_flag > 0) & (first_flag <= WITHIN), np.zeros(first_flag.shape, dtype=bool)


def summarise(results: list[dict]) -> dict:
    kinds = np.concatenate([r["kinds"] for r in results])
    first = np.concatenate([r["first_flag"] for r in results])
    rules_by = [rule for r in results for rule in r["flag_rules"]]
    gold = np.concatenate([r["gold_by_worker"] for r in results])
    made = np.concatenate([r["judgments_by_worker"] for r in results])
    out = {"behaviours": {}}
    all_caught = []
    for b in BEHAVIOURS:
        sel = kinds == b
        ok, early = caught(b, first[sel])
        all_caught.append(ok)
        flagged = first[sel][first[sel] > 0]
        by: dict = {}
        for w in np.flatnonzero(sel)[ok]:
            name = "+".join(rules_by[w])
            by[name] = by.get(name, 0) + 1
        out["behaviours"][b] = {"caught": float(ok.mean()), "n": int(sel.sum()), "early": int(early.sum()),
                                "median_to_flag": float(np.median(flagged)) if flagged.size else None,
                                "caught_by": dict(sorted(by.items(), key=lambda kv: -kv[1])),
                                "gold_share": float(gold[sel].sum() / made[sel].sum())}
    honest = kinds == HONEST
    out["all_caught"] = float(np.concatenate(all_caught).mean())
    out["false_flags"] = (int((first[honest] > 0).sum()), int(honest.sum()))
    out["false_flag_rules"] = sorted("+".join(rules_by[w]) for w in np.flatnonzero(honest & (first > 0)))
    out["gold_share"] = sum(r["n_gold"] for r in results) / sum(r["n_judgments"] for r in results)
    honest_best = np.concatenate([r["bound_cusum"][0] for r in results])
    sleeper_best = np.concatenate([r["bound_cusum"][1] for r in results])
    out["sleeper_bound"] = {}
    for ff in (0.0025, 0.005, 0.01):
        allowed = int(np.floor(ff * honest_best.size))
        threshold = np.nextafter(np.sort(np.nan_to_num(honest_best, nan=-np.inf))[::-1][allowed], np.inf)
        out["sleeper_bound"][ff] = (float(threshold), float((np.nan_to_num(sleeper_best, nan=-np.inf) >= threshold)
                                                            .mean()))
    s = {key: sum(r[key] for r in results) for key in ("touched_ok", "touched_n", "honest_ok", "honest_n",
                                                         "touched_clean_ok", "touched_no_honest")}
    out["accuracy_touched"] = s["touched_ok"] / s["touched_n"]
    out["accuracy_honest_only"] = s["honest_ok"] / s["honest_n"]
    out["accuracy_touched_without_cheaters"] = s["touched_clean_ok"] / s["touched_n"]
    out["touched_no_honest_share"] = s["touched_no_honest"] / s["touched_n"]
    out["accuracy_touched_by"] = {b: sum(r["by_behaviour_touched"][b][0] for r in results)
                                  / max(1, sum(r["by_behaviour_touched"][b][1] for r in results))
                                  for b in BEHAVIOURS}
    return out


def report(summary: dict, label: str) -> None:
    print(f"== {label}")
    print("| behaviour | caught | median judgments to flag | caught by | gold share |")
    print("|---|---|---|---|---|")
    for b, v in summary["behaviours"].items():
        extra = f" (+{v['early']} flagged while still honest)" if v["early"] else ""
        print(f"| {b} | {v['caught']:.1%} of {v['n']}{extra} | {v['median_to_flag']} | {v['caught_by']} | "
              f"{v['gold_share']:.1%} |")
    ff, n = summary["false_flags"]
    print(f"all cheaters caught: {summary['all_caught']:.1%}; false flags {ff}/{n} = {ff / n:.2%} "
          f"({summary['false_flag_rules']}); mean gold share {summary['gold_share']:.2%}")
    print(f"consensus accuracy: tasks a cheater touched {summary['accuracy_touched']:.4f}, honest-only tasks "
          f"{summary['accuracy_honest_only']:.4f}; touched, by behaviour "
          f"{ {b: round(a, 3) for b, a in summary['accuracy_touched_by'].items()} }")
    print("truth-known bound for sleepers (the change rule's CUSUM, every judgment graded against the truth, "
          "threshold chosen in hindsight): " + "; ".join(
              f"{ff:.2%} honest flagged: {caught:.1%} of sleepers within {SLEEPER_WINDOW} of turning (log LR "
              f"{threshold:.2f})" for ff, (threshold, caught) in summary["sleeper_bound"].items()))
    print(f"  bound for touched tasks: Dawid-Skene without the cheaters' judgments (who cheats known) "
          f"{summary['accuracy_touched_without_cheaters']:.4f}; touched tasks with no honest rater "
          f"{summary['touched_no_honest_share']:.1%}")


def sleeper_bound_draw(*, n: int, accuracy: float, min_n: int, seed: int = 1) -> None:
    """The sleeper bound on a large draw, without the crowd: n honest raters (accuracy 0.65-0.95, 60 judgments)
    and n sleepers (15 honest, 20 random), every answer graded against the truth; the change rule's CUSUM at the
    lowest threshold that flags at most 0.25% / 0.5% / 1% of the honest ones (chosen in hindsight)."""
    rng = np.random.default_rng(seed)
    acc = rng.uniform(0.65, 0.95, n)
    honest = (rng.random((n, 60)) < acc[:, None]).astype(np.float64)
    sleepers = np.concatenate([rng.random((n, SLEEPER_HONEST)) < acc[:, None],
                               rng.random((n, SLEEPER_WINDOW)) < 1 / 3], axis=1).astype(np.float64)
    ids = np.repeat(np.arange(n), 60)
    h, _, _, _ = cusum_log_lr(honest.ravel(), ids, n_workers=n, n_options=3, accuracy=accuracy, min_n=min_n)
    s, _, _, _ = cusum_log_lr(sleepers.ravel(), np.repeat(np.arange(n), SLEEPER_HONEST + SLEEPER_WINDOW),
                              n_workers=n, n_options=3, accuracy=accuracy, min_n=SLEEPER_HONEST + 1)
    for ff in (0.0025, 0.005, 0.01):
        threshold = np.quantile(h, 1 - ff)
        print(f"sleeper bound draw ({n} each): at {ff:.2%} honest flagged (log LR {threshold:.2f}) "
              f"{(s >= threshold).mean():.1%} of sleepers within {SLEEPER_WINDOW} of turning")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seed-offset", type=int, default=0)
    parser.add_argument("--gold-share", type=float, default=0.05)
    parser.add_argument("--baseline", action="store_true", help="the rules before issue 28 (new checks off)")
    parser.add_argument("--rules", default="", help="JSON overrides, as QUALITY_RULES")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON too")
    parser.add_argument("--dump", default="", help="write each round's per-worker test figures to this .npz "
                        "(to choose thresholds offline)")
    parser.add_argument("--bound-draw", type=int, default=0,
                        help="also the sleeper bound on a large draw of truth-graded raters (e.g. 20000)")
    args = parser.parse_args()
    layers = [BASELINE_RULES if args.baseline else None, json.loads(args.rules) if args.rules else None]
    rules = merge_rules(*layers)
    if args.bound_draw:
        sleeper_bound_draw(n=args.bound_draw, accuracy=float(rules["change"]["accuracy"]),
                           min_n=int(rules["change"]["min_n"]))
        if not args.seeds:
            return
    seeds = range(args.seed_offset, args.seed_offset + args.seeds)
    results = []
    for seed in seeds:
        results.append(run(args, seed, rules))
        one = summarise(results[-1:])
        print(f"seed {seed}: caught {({b: round(v['caught'], 2) for b, v in one['behaviours'].items()})}; "
              f"false flags {one['false_flags'][0]}; gold {one['gold_share']:.3f}; accuracy touched "
              f"{one['accuracy_touched']:.3f} / honest-only {one['accuracy_honest_only']:.3f}", flush=True)
    if args.dump:
        np.savez_compressed(args.dump, **{f"{r['seed']}_{key}": np.stack([t[key] for t in r["trace"]])
                                          for r in results for key in (*TRACE_KEYS, "old_flag")},
                            **{f"{r['seed']}_kinds": r["kinds"].astype(str) for r in results})
    summary = summarise(results)
    report(summary, f"seeds {seeds.start}-{seeds.stop - 1}, {'baseline rules' if args.baseline else 'rules'} "
           f"{args.rules or 'default'}")
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
