"""PNG charts for --report-dir (matplotlib, Agg backend: no display needed)."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first

COLORS = {"careful": "#2b8a3e", "average": "#74b816", "spammer": "#e03131", "always_a": "#f76707", "fast": "#ae3ec9"}


def pay_per_worker(report: dict, path: Path) -> None:
    workers = sorted(report["workers"], key=lambda w: (w["behaviour"], -w["earned_cents"]))
    fig, ax = plt.subplots(figsize=(max(6, len(workers) * 0.35), 4))
    ax.bar(range(len(workers)), [w["earned_cents"] / 100 for w in workers],
           color=[COLORS.get(w["behaviour"], "grey") for w in workers],
           edgecolor=["black" if w["flagged"] else "none" for w in workers])
    ax.set_xticks(range(len(workers)), [w["behaviour"] for w in workers], rotation=90, fontsize=7)
    ax.set_ylabel("earned (USD)")
    ax.set_title("Pay per worker (outlined: flagged)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def pay_follows_evidence(report: dict, path: Path) -> None:
    """Per worker: what they earned in the day (light) and what the day's batch paid them (dark), with the
    line a planted bad rater must stay under (a quarter of the honest workers' median pay)."""
    workers = sorted(report["workers"], key=lambda w: (not w["honest"], w["behaviour"], -w["earned_cents"]))
    fig, ax = plt.subplots(figsize=(max(6, len(workers) * 0.35), 4))
    x = range(len(workers))
    colors = [COLORS.get(w["behaviour"], "grey") for w in workers]
    ax.bar(x, [w["earned_cents"] / 100 for w in workers], color=colors, alpha=0.3, label="earned")
    ax.bar(x, [w["paid_lines_cents"] / 100 for w in workers], color=colors, width=0.5, label="paid in the batch")
    pay = (report.get("money") or {}).get("pay_follows_evidence") or {}
    if pay.get("bad_limit_cents") is not None:
        ax.axhline(pay["bad_limit_cents"] / 100, color="black", linestyle="--", linewidth=1,
                   label="bad raters' limit (1/4 of honest median)")
    ax.set_xticks(list(x), [w["behaviour"] for w in workers], rotation=90, fontsize=7)
    ax.set_ylabel("USD")
    ax.set_title(f"Pay follows evidence: honest paid {pay.get('honest_paid_share')} of earned")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def quality_distribution(report: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    by_group: dict[str, list[float]] = {}
    for w in report["workers"]:
        score = w["quality_score"] if w["quality_score"] is not None else w["gold_accuracy"]
        if score is not None:
            by_group.setdefault(w["behaviour"], []).append(score)
    if by_group:
        ax.hist(list(by_group.values()), bins=10, range=(0, 1), stacked=True, label=list(by_group),
                color=[COLORS.get(k, "grey") for k in by_group])
        ax.legend(fontsize=8)
    threshold = report.get("flag_threshold")
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", label="flag threshold")
        ax.text(threshold, ax.get_ylim()[1] * 0.95, " flag threshold", fontsize=8)
    ax.set_xlabel("gold accuracy, upper bound (Wilson 95%): flagged below the threshold")
    ax.set_ylabel("workers")
    ax.set_title("Quality score distribution")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def queue_depth(report: dict, path: Path) -> None:
    points = report["timeline"]
    fig, ax = plt.subplots(figsize=(6, 4))
    if points:
        ax.plot([p["t"] for p in points], [p["open_slots"] for p in points], label="open slots (queue depth)")
        ax.plot([p["t"] for p in points], [p["tasks_complete"] for p in points], label="tasks complete")
        ax.legend(fontsize=8)
    ax.set_xlabel("seconds since start")
    ax.set_title("Queue depth over time")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def preference_confidence(report: dict, path: Path) -> None:
    """The day's preference pairs by consensus confidence, split by whether the chosen side is the truth."""
    export = report.get("export") or {}
    confidences, correct = export.get("confidences") or [], export.get("correct") or []
    fig, ax = plt.subplots(figsize=(6, 4))
    if confidences and len(correct) == len(confidences):
        right = [c for c, ok in zip(confidences, correct, strict=True) if ok]
        wrong = [c for c, ok in zip(confidences, correct, strict=True) if not ok]
        ax.hist([right, wrong], bins=10, range=(0, 1), stacked=True, label=["chosen is the truth", "chosen is wrong"],
                color=["#2b8a3e", "#e03131"])
        ax.legend(fontsize=8)
    ax.set_xlabel("consensus confidence")
    ax.set_ylabel("preference pairs")
    ax.set_title(f"Preference pairs from the day: {export.get('pairs', 0)}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


GOLD_WINDOW = 10


def gold_share(report: dict, path: Path) -> None:
    """Each worker's gold share over time: the share of gold among their last GOLD_WINDOW claims, by judgment
    number, coloured by planted behaviour (adaptive gold raises it for workers in doubt)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    seen = set()
    for w in report["workers"]:
        served = w.get("gold_served") or []
        if not served:
            continue
        running = [sum(served[max(0, i + 1 - GOLD_WINDOW):i + 1]) / min(i + 1, GOLD_WINDOW) for i in range(len(served))]
        label = None if w["behaviour"] in seen else w["behaviour"]
        seen.add(w["behaviour"])
        ax.plot(range(1, len(served) + 1), running, color=COLORS.get(w["behaviour"], "grey"), alpha=0.6,
                linewidth=1, label=label)
    gold = report.get("gold_share")
    if gold is not None:
        ax.axhline(gold, color="black", linestyle="--", linewidth=1, label="project's gold share")
    if seen:
        ax.legend(fontsize=8)
    ax.set_xlabel("judgment number")
    ax.set_ylabel(f"gold among the last {GOLD_WINDOW} claims")
    ax.set_title("Gold share per worker over time")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report_dir(report: dict, directory: str) -> list[Path]:
    """report.json and the charts; returns the paths written."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.json", out / "pay_per_worker.png", out / "quality_scores.png", out / "queue_depth.png",
             out / "preference_confidence.png", out / "gold_share.png", out / "pay_follows_evidence.png"]
    paths[0].write_text(json.dumps(report, indent=2, default=str))
    pay_per_worker(report, paths[1])
    quality_distribution(report, paths[2])
    queue_depth(report, paths[3])
    preference_confidence(report, paths[4])
    gold_share(report, paths[5])
    pay_follows_evidence(report, paths[6])
    return paths
