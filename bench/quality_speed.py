"""Speed of the quality core against the reference packages, measured in the same run (CPU seconds).

- Dawid-Skene on 1M labels (pairwise a/b/tie, 2,000 workers, overlap 3): ours vs crowd-kit's DawidSkene,
  both for the same number of EM iterations (crowd-kit's default stopping rule is tol 1e-5 on the
  log-likelihood change; ours is relative; to compare like with like both run a fixed 50 iterations with
  tolerance 0). Also ours with its default convergence.
- Krippendorff's alpha on 100k units x 3 raters (nominal and ordinal, 5 values, 10% missing): ours vs the
  krippendorff package.

    /tmp/qbench/bin/python bench/quality_speed.py        # with crowd-kit (requirements-bench.txt)
    .venv/bin/python bench/quality_speed.py              # alpha only when crowd-kit is missing
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quality.consensus import dawid_skene  # noqa: E402
from quality.metrics import krippendorff_alpha  # noqa: E402


def best_of(fn, repeat: int):
    """Best CPU time (time.process_time) of `repeat` runs after one warm-up run. CPU time, not wall time:
    the machine is shared by other jobs, which stretch wall times at random; both sides are single-threaded
    numpy/pandas code, so CPU time is what each implementation costs."""
    times = []
    result = fn() if repeat > 1 else None
    for _ in range(repeat):
        started = time.process_time()
        result = fn()
        times.append(time.process_time() - started)
    return min(times), result


def crowd(n_labels: int, n_workers: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    n_items = n_labels // 3
    truth = rng.choice(3, n_items, p=[0.45, 0.45, 0.10])
    items = np.repeat(np.arange(n_items), 3)
    # Three distinct workers per item: a random start and two random non-zero offsets modulo n_workers.
    start = rng.integers(0, n_workers, n_items)
    offsets = np.stack([np.zeros(n_items, dtype=np.int64), rng.integers(1, n_workers // 2, n_items),
                        rng.integers(n_workers // 2, n_workers, n_items)], axis=1)
    workers = ((start[:, None] + offsets) % n_workers).ravel()
    acc = rng.uniform(0.55, 0.95, n_workers)
    correct = rng.random(items.size) < acc[workers]
    labels = np.where(correct, truth[items], (truth[items] + rng.integers(1, 3, items.size)) % 3)
    return items, workers, labels, truth, n_items


def bench_dawid_skene(args):
    items, workers, labels, truth, n_items = crowd(args.labels, args.workers)
    print(f"Dawid-Skene on {items.size:,} labels ({n_items:,} items, {args.workers:,} workers, 3 classes)")
    fixed = dict(n_items=n_items, n_workers=args.workers, n_classes=3, max_iter=args.iterations, tol=0.0)
    t_ours, fit = best_of(lambda: dawid_skene(items, workers, labels, **fixed), args.repeat)
    print(f"  ours, {fit.n_iter} iterations:        {t_ours:8.2f} s   accuracy {np.mean(fit.answers == truth):.4f}")
    t_conv, fit2 = best_of(lambda: dawid_skene(items, workers, labels, n_items=n_items, n_workers=args.workers,
                                               n_classes=3), args.repeat)
    print(f"  ours, to convergence ({fit2.n_iter} it.):  {t_conv:8.2f} s   accuracy {np.mean(fit2.answers == truth):.4f}")
    try:
        import pandas as pd
        from crowdkit.aggregation import DawidSkene
    except ImportError:
        print("  crowd-kit not installed (pip install -r requirements-bench.txt): no baseline")
        return
    df = pd.DataFrame({"task": items, "worker": workers, "label": labels})
    t_ck, result = best_of(lambda: DawidSkene(n_iter=args.iterations, tol=0.0).fit_predict(df), 1)
    predicted = result.reindex(range(n_items)).to_numpy().astype(int)
    print(f"  crowd-kit 1.4.2, {args.iterations} iterations: {t_ck:8.2f} s   accuracy {np.mean(predicted == truth):.4f}")
    print(f"  speed-up at equal iterations: {t_ck / t_ours:.1f}x (target >= 5x)")
    t_ckd, result = best_of(lambda: DawidSkene().fit_predict(df), 1)
    predicted = result.reindex(range(n_items)).to_numpy().astype(int)
    print(f"  crowd-kit 1.4.2, its defaults (n_iter=100, tol=1e-5): {t_ckd:8.2f} s   accuracy "
          f"{np.mean(predicted == truth):.4f}")
    print(f"  speed-up, each with its defaults: {t_ckd / t_conv:.1f}x")


def bench_alpha(args):
    import krippendorff

    rng = np.random.default_rng(1)
    truth = rng.integers(1, 6, args.units)
    data = np.where(rng.random((3, args.units)) < 0.8, truth, rng.integers(1, 6, (3, args.units))).astype(float)
    data[rng.random(data.shape) < 0.1] = np.nan
    print(f"Krippendorff's alpha on {args.units:,} units x 3 raters (5 values, 10% missing)")
    for level in ("nominal", "ordinal"):
        t_ours, ours = best_of(lambda lv=level: krippendorff_alpha(data, level=lv), args.repeat)
        t_ref, ref = best_of(lambda lv=level: krippendorff.alpha(reliability_data=data, level_of_measurement=lv),
                             args.repeat)
        print(f"  {level:8s} ours {t_ours * 1000:8.1f} ms   krippendorff {t_ref * 1000:8.1f} ms   "
              f"ratio {t_ref / t_ours:5.1f}x   |difference| {abs(ours - ref):.1e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2000)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-ds", action="store_true")
    args = parser.parse_args()
    bench_alpha(args)
    if not args.skip_ds:
        bench_dawid_skene(args)


if __name__ == "__main__":
    main()
