"""Score one project from its judgments: consensus, agreement, each worker's figures and the rules' findings.

Pure numpy (no Django): quality.services loads the rows into a ProjectData, bench/ builds one from planted
truth, and both call score_project, so the benchmark measures exactly what the jobs do.
"""

from dataclasses import dataclass, field

import numpy as np

from quality.consensus import bradley_terry_rankings, dawid_skene, flags_dawid_skene, loo_agreement_scores
from quality.metrics import (
    cusum_log_lr,
    fleiss_kappa_long,
    group_median,
    krippendorff_alpha_long,
    line_alpha,
    line_overlap,
    loo_agreement,
    loo_plurality_scores,
    random_answer_log_lr,
    random_answer_mixture_log_lr,
    span_consensus,
    top_label_share,
    wilson_interval,
)
from quality.metrics.collusion import collusion_groups, order_agreement
from quality.rules import evaluate_worker, rule_copying

CATEGORICAL, FLAGS, RANKING, TEXT = "categorical", "flags", "ranking", "text"


@dataclass
class ProjectData:
    """One row per approved judgment (parallel arrays) plus what is known about items and classes."""

    kind: str  # categorical | flags | ranking | text
    items: np.ndarray  # item (task) index per judgment
    workers: np.ndarray  # worker index per judgment
    labels: np.ndarray | list  # categorical: class code; flags: list of flag-code lists; ranking: list of orders
    seconds: np.ndarray  # NaN when unknown
    n_items: int
    n_workers: int
    classes: list = field(default_factory=list)  # class names (categorical), flag slugs (flags)
    level: str = "nominal"  # Krippendorff level for categorical data (ordinal for ratings)
    values: np.ndarray | None = None  # numeric value per class code for ordinal/interval alpha
    gold: dict = field(default_factory=dict)  # item -> class code (categorical) or set of flag codes (flags)
    gold_correct: np.ndarray | None = None  # per judgment: 1/0 on gold items, NaN elsewhere (overrides gold)
    n_options: np.ndarray | None = None  # ranking: responses per item
    answer_options: int | None = None  # categorical: answers a worker can give (pairwise without tie: 2); None: all
    # flags: per judgment its spans [(start_line, end_line, flag code)], or None when it does not localise
    # (quality.metrics.spans); per item the code's line count (0 when unknown). None: no span data at all.
    spans: list | None = None
    n_lines: np.ndarray | None = None
    collusion_cleared: set = field(default_factory=set)  # workers whose collusion flag ops dismissed: full votes


@dataclass
class ProjectScore:
    answers: list  # per item: class code / list of flag codes / order; None without judgments
    confidence: np.ndarray
    method: str
    alpha: float
    level: str
    fleiss_kappa: float
    n_tasks: int
    n_judgments: int
    workers: list[dict]  # per worker index: figures + "findings"
    pool: dict
    model: dict | None = None  # fitted Dawid-Skene parameters (categorical) for per-task updates
    # flags: per item its consensus spans [(start, end, flag code, support)], None where no judgment localises
    span_answers: list | None = None
    span_agreement: dict | None = None  # flags with spans: line alpha and line overlap (span_agreement_figures)


def _gold_correct(data: ProjectData) -> np.ndarray:
    if data.gold_correct is not None:
        return np.asarray(data.gold_correct, dtype=np.float64)
    result = np.full(len(data.items), np.nan)
    for row, item in enumerate(data.items):
        if int(item) in data.gold:
            truth = data.gold[int(item)]
            given = data.labels[row]
            result[row] = float(set(given) == set(truth)) if data.kind == FLAGS else float(given == truth)
    return result


def _expand_flags(data: ProjectData):
    """(task, flag) pairs as binary items: each flag is its own present/absent question."""
    n_flags = max(len(data.classes), 1)
    rows = np.repeat(np.arange(len(data.items)), n_flags)
    flag = np.tile(np.arange(n_flags), len(data.items))
    present = np.zeros((len(data.items), n_flags), dtype=np.int64)
    for row, flags in enumerate(data.labels):
        present[row, list(flags)] = 1
    return data.items[rows] * n_flags + flag, data.workers[rows], present.ravel()


def span_answers_of(data: ProjectData) -> list | None:
    """Per item: the consensus spans of its localising judgments; None where no judgment of the item gives
    a span (a project that never used spans keeps the consensus shape it had)."""
    if data.spans is None:
        return None
    by_item: dict[int, list] = {}
    for item, spans in zip(np.asarray(data.items).tolist(), data.spans, strict=True):
        if spans is not None:
            by_item.setdefault(int(item), []).append(spans)
    n_lines = data.n_lines if data.n_lines is not None else np.zeros(data.n_items, dtype=np.int64)
    return [span_consensus(by_item[i], int(n_lines[i])) if any(by_item.get(i, ())) else None
            for i in range(data.n_items)]


def span_agreement_figures(data: ProjectData, real: np.ndarray) -> dict | None:
    """Line-level agreement of the spans on real (non-gold) items: {alpha, level, n_tasks, n_lines,
    n_judgments, f1, jaccard, pairs, categories: {slug: {f1, jaccard, pairs}}}; None without span data."""
    if data.spans is None:
        return None
    keep = [row for row in range(len(data.items)) if real[row] and data.spans[row] is not None]
    items = np.asarray(data.items, dtype=np.int64)[keep]
    spans = [data.spans[row] for row in keep]
    if not any(spans):
        return None  # nobody pointed at a line: "no flag" everywhere says nothing about localising
    alpha, n_units, n_tasks = line_alpha(items, spans, data.n_lines)
    overlap = line_overlap(items, spans, n_categories=len(data.classes))
    return {"alpha": None if not np.isfinite(alpha) else float(alpha), "level": "nominal",
            "n_tasks": n_tasks, "n_lines": n_units, "n_judgments": len(keep),
            "f1": overlap["f1"], "jaccard": overlap["jaccard"], "pairs": overlap["pairs"],
            "categories": {data.classes[c]: figures for c, figures in overlap["categories"].items()}}


def _collusion_for(group: dict | None, w: int) -> dict | None:
    """What rules.rule_collusion reads about worker w's group (indexes: quality.services maps them to ids)."""
    if group is None:
        return None
    pairs = [p for p in group["pairs"] if w in (p["a"], p["b"])]
    shared = sum(p["shared"] for p in pairs)
    return {"workers": list(group["workers"]), "items": list(group["items"]),
            "pairs": [{**p, "partner": p["b"] if p["a"] == w else p["a"]} for p in pairs],
            "shared": shared, "agreed": sum(p["agreed"] for p in pairs),
            "agree_rest": max((p["agree_rest"] for p in pairs), default=None)}


def score_project(data: ProjectData, rules: dict, *, seed: int = 0) -> ProjectScore:
    items = np.asarray(data.items, dtype=np.int64)
    workers = np.asarray(data.workers, dtype=np.int64)
    n_j = len(items)
    real = np.array([int(i) not in data.gold for i in items], dtype=bool) if n_j else np.zeros(0, dtype=bool)
    model = None
    loo_mean = np.full(data.n_workers, np.nan)
    loo_n = np.zeros(data.n_workers, dtype=np.int64)
    top = (np.full(data.n_workers, -1), np.zeros(data.n_workers, dtype=np.int64), np.zeros(data.n_workers, dtype=np.int64))
    label_share: dict = {}
    loo_sd = None
    random_llr = np.full(data.n_workers, np.nan)
    random_floor_llr = np.full(data.n_workers, np.nan)
    random_n = np.zeros(data.n_workers, dtype=np.int64)
    random_options = None
    # Issue 28: the random test on real tasks alone and on gold alone, and its CUSUM (change over time).
    real_llr, real_n = np.full(data.n_workers, np.nan), np.zeros(data.n_workers, dtype=np.int64)
    gold_llr, gold_test_n = np.full(data.n_workers, np.nan), np.zeros(data.n_workers, dtype=np.int64)
    cusum = (np.full(data.n_workers, np.nan), np.full(data.n_workers, np.nan),
             np.zeros(data.n_workers, dtype=np.int64), np.zeros(data.n_workers, dtype=np.int64))
    collusion: dict[int, dict] = {}
    order_stats = None
    gold_correct = _gold_correct(data)
    alpha = kappa = float("nan")
    level = data.level
    span_answers = span_agreement = None

    if data.kind == CATEGORICAL and n_j:
        labels = np.asarray(data.labels, dtype=np.int64)
        k = len(data.classes)
        # Collusion (rules.rule_collusion): groups of raters who agree with each other far more than with the
        # rest, or keep landing on the same tasks, found on real tasks; the consensus counts each group as one
        # voice per task (its first judgment there) until ops decide.
        voice = np.ones(n_j, dtype=bool)
        ccfg = rules.get("collusion") or {}
        if ccfg.get("enabled") and real.any():
            groups = collusion_groups(items[real], workers[real], labels[real], n_workers=data.n_workers,
                                      min_shared=int(ccfg["min_shared"]), cooccur_p=float(ccfg["cooccur_p"]),
                                      agree_p=float(ccfg["agree_p"]), margin=float(ccfg["margin"]))
            for group in groups:
                group["pairs"] = [p for p in group["pairs"]
                                  if p["a"] not in data.collusion_cleared and p["b"] not in data.collusion_cleared]
                group["workers"] = sorted({w for p in group["pairs"] for w in (p["a"], p["b"])})
                if len(group["workers"]) < 2:
                    continue
                for member in group["workers"]:
                    collusion[member] = group
                if ccfg.get("one_voice"):
                    in_group = np.isin(workers, group["workers"]) & real
                    rows = np.flatnonzero(in_group)
                    _, first = np.unique(items[rows], return_index=True)
                    voice[rows] = False
                    voice[rows[first]] = True
        if (rules.get("copying") or {}).get("enabled") and real.any():
            order_stats = order_agreement(items[real], workers[real], labels[real], n_workers=data.n_workers)
            if rules["copying"].get("drop_votes"):
                # A copier adds nothing the raters they copy did not give: their votes leave the consensus while
                # the test says so (their own figures are still measured against everyone).
                copiers = [w for w in range(data.n_workers) if (f := rule_copying(
                    {"earlier_agreed": order_stats[0][w], "earlier_n": int(order_stats[1][w]),
                     "later_agreed": order_stats[2][w], "later_n": int(order_stats[3][w])}, rules["copying"]))
                    and f["level"] in ("review", "suspend")]
                voice &= ~(np.isin(workers, copiers) & real)
        fit = dawid_skene(items[voice], workers[voice], labels[voice], n_items=data.n_items,
                          n_workers=data.n_workers, n_classes=k, gold=data.gold, seed=seed)
        answers = [int(a) if a >= 0 else None for a in fit.answers]
        confidence, method = fit.confidence, "dawid_skene"
        model = {"classes": list(data.classes), "priors": fit.priors.tolist(), "confusions": fit.confusions}
        values = data.values if data.values is not None and level != "nominal" else np.arange(k)
        alpha = krippendorff_alpha_long(items[real], np.asarray(values, dtype=np.float64)[labels[real]], level=level)
        kappa = fleiss_kappa_long(items[real], labels[real], k)
        # Leave-one-out agreement with the Dawid-Skene consensus of the other raters (soft: the probability
        # the others' consensus gives this label), on judgments with at least two other raters.
        scores, n_others = loo_agreement_scores(items, workers, labels, confusions=fit.confusions,
                                                priors=fit.priors, n_items=data.n_items)
        scored = n_others >= 2
        loo_sd = float(scores[scored].std()) if scored.any() else None
        if level == "nominal":
            # Random answering (rules.rule_random): every judgment counts, each against the truth where it is
            # known (gold) and otherwise the others' consensus (the class prior when it has no other raters).
            random_options = int(data.answer_options or k)
            # The honest hypothesis is composite (accuracy anywhere from the floor to the ceiling): the
            # worker's likelihood is averaged over it (quality.metrics.random_answer_mixture_log_lr).
            reference = np.where(np.isnan(gold_correct), scores, gold_correct)
            cfg = rules["random"]
            random_llr, random_n = random_answer_mixture_log_lr(
                reference, workers, n_workers=data.n_workers, n_options=random_options,
                accuracy_floor=float(cfg["accuracy_floor"]), accuracy_ceiling=float(cfg["accuracy_ceiling"]))
            # A judgment without a usable reference (NaN) is left out, not the whole project; no figure at all
            # means the floor does not exceed chance for this schema (rules_errors refuses floors <= 0.5).
            if np.isnan(random_llr).all():
                random_n = np.zeros(data.n_workers, dtype=np.int64)
            # Against the floor alone too: a rater right at the floor keeps that test's guarantee (rule_random).
            floor_llr = random_answer_log_lr(reference, n_options=random_options,
                                             accuracy_floor=float(cfg["accuracy_floor"]))
            usable = ~np.isnan(floor_llr)
            random_floor_llr = np.bincount(workers[usable], weights=floor_llr[usable], minlength=data.n_workers)
            # Gold apart from agreement (rules.rule_gold_record, rules.rule_random's real_only): the same test on
            # gold answers alone (the one reference a ring cannot write) and on real tasks alone (gold answered
            # well cannot clear random answers elsewhere).
            on_gold = ~np.isnan(gold_correct)
            mix = {"n_workers": data.n_workers, "n_options": random_options,
                   "accuracy_floor": float(cfg["accuracy_floor"]), "accuracy_ceiling": float(cfg["accuracy_ceiling"])}
            if on_gold.any():
                gold_llr, gold_test_n = random_answer_mixture_log_lr(gold_correct[on_gold], workers[on_gold], **mix)
            if (~on_gold).any():
                real_llr, real_n = random_answer_mixture_log_lr(reference[~on_gold], workers[~on_gold], **mix)
            change = rules.get("change") or {}
            if change.get("enabled", True):
                cusum = cusum_log_lr(reference, workers, n_workers=data.n_workers, n_options=random_options,
                                     accuracy=float(change.get("accuracy", 0.75)), min_n=int(change.get("min_n", 20)))
        loo_n = np.bincount(workers[scored], minlength=data.n_workers)
        with np.errstate(divide="ignore", invalid="ignore"):
            loo_mean = np.bincount(workers[scored], weights=scores[scored], minlength=data.n_workers) / loo_n
        top = top_label_share(workers, labels, n_workers=data.n_workers, n_classes=k)
        counts = np.bincount(labels, minlength=k) / n_j
        label_share = {data.classes[c]: float(counts[c]) for c in range(k)}
    elif data.kind == FLAGS and n_j:
        n_flags = len(data.classes)
        answers, confidence, _ = flags_dawid_skene(items, workers, data.labels, n_items=data.n_items,
                                                   n_workers=data.n_workers, n_flags=n_flags, gold=data.gold, seed=seed)
        method = "flags_dawid_skene"
        e_items, e_workers, e_labels = _expand_flags(data)
        e_real = np.repeat(real, n_flags)
        level = "nominal"
        alpha = krippendorff_alpha_long(e_items[e_real], e_labels[e_real].astype(np.float64), level=level)
        kappa = fleiss_kappa_long(e_items[e_real], e_labels[e_real], 2)
        loo_mean, loo_n = loo_agreement(e_items, e_workers, e_labels, n_workers=data.n_workers, n_classes=2)
        credit, ok = loo_plurality_scores(e_items, e_labels, n_classes=2)
        loo_sd = float(credit[ok].std()) if ok.any() else None
        loo_n = loo_n // max(n_flags, 1)  # report judgments, not (judgment, flag) pairs
        span_answers = span_answers_of(data)
        span_agreement = span_agreement_figures(data, real)
    elif data.kind == RANKING and n_j:
        answers, confidence, _ = bradley_terry_rankings(items, data.labels, n_items=data.n_items,
                                                        n_options=data.n_options)
        method = "bradley_terry"
        width = int(max(data.n_options)) if len(data.n_options) else 1
        r_items, r_values, r_real = [], [], []
        for row, order in enumerate(data.labels):
            for position, response in enumerate(order):
                r_items.append(int(items[row]) * width + int(response))
                r_values.append(float(position))
                r_real.append(real[row])
        r_real = np.array(r_real, dtype=bool)
        level = "ordinal"
        alpha = krippendorff_alpha_long(np.array(r_items)[r_real], np.array(r_values)[r_real], level=level)
        first = np.array([order[0] if order else 0 for order in data.labels], dtype=np.int64)
        kappa = fleiss_kappa_long(items[real], first[real], width)
        loo_mean, loo_n = loo_agreement(items, workers, first, n_workers=data.n_workers, n_classes=width)
        credit, ok = loo_plurality_scores(items, first, n_classes=width)
        loo_sd = float(credit[ok].std()) if ok.any() else None
        top = top_label_share(workers, first, n_workers=data.n_workers, n_classes=width)
        counts = np.bincount(first, minlength=width) / n_j
        label_share = {f"response {c}": float(counts[c]) for c in range(width)}
    else:
        answers = [None] * data.n_items
        confidence = np.full(data.n_items, np.nan)
        method = "none"
        level = data.level if data.kind != TEXT else "none"

    is_gold = ~np.isnan(gold_correct)
    gold_n = np.bincount(workers[is_gold], minlength=data.n_workers)
    gold_ok = np.bincount(workers[is_gold], weights=gold_correct[is_gold], minlength=data.n_workers)
    gold_lower, gold_upper = wilson_interval(gold_ok, gold_n)
    seconds = np.asarray(data.seconds, dtype=np.float64)
    medians = group_median(workers, seconds, n_groups=data.n_workers)
    timed = np.bincount(workers[~np.isnan(seconds)], minlength=data.n_workers)
    n_judgments = np.bincount(workers, minlength=data.n_workers)
    finite = loo_mean[(loo_n > 0) & ~np.isnan(loo_mean)]
    pool = {"loo_median": float(np.median(finite)) if finite.size else None, "loo_sd": loo_sd,
            "label_share": label_share}
    names = list(label_share)
    # The share of each worker's top answer among the *other* workers' judgments: a spammer's own answers
    # must not raise the bar they are measured against.
    totals = np.array([label_share[n] for n in names]) * n_j if names else np.zeros(0)

    stats = []
    for w in range(data.n_workers):
        s = {
            "n_judgments": int(n_judgments[w]),
            "gold_n": int(gold_n[w]), "gold_correct": int(round(gold_ok[w])),
            "gold_accuracy": float(gold_ok[w] / gold_n[w]) if gold_n[w] else None,
            "gold_lower": None if np.isnan(gold_lower[w]) else float(gold_lower[w]),
            "gold_upper": None if np.isnan(gold_upper[w]) else float(gold_upper[w]),
            "loo_agreement": None if np.isnan(loo_mean[w]) else float(loo_mean[w]), "loo_n": int(loo_n[w]),
            "median_seconds": None if np.isnan(medians[w]) else float(medians[w]), "n_timed": int(timed[w]),
            "top_label": names[top[0][w]] if top[0][w] >= 0 and names and top[2][w] else None,
            "top_count": int(top[1][w]), "top_n": int(top[2][w]),
            "random_log_lr": float(random_llr[w]) if random_n[w] else None, "random_n": int(random_n[w]),
            "random_floor_log_lr": float(random_floor_llr[w]) if random_n[w] else None,
            "random_options": random_options,
            "real_log_lr": float(real_llr[w]) if real_n[w] else None, "real_n": int(real_n[w]),
            "gold_log_lr": float(gold_llr[w]) if gold_test_n[w] else None,
            "change_log_lr": None if np.isnan(cusum[0][w]) else float(cusum[0][w]),
            "change_log_lr_now": None if np.isnan(cusum[1][w]) else float(cusum[1][w]),
            "change_start": int(cusum[2][w]), "change_length": int(cusum[3][w]),
            "collusion_group": _collusion_for(collusion.get(w), w),
            "earlier_agreed": None if order_stats is None else int(order_stats[0][w]),
            "earlier_n": None if order_stats is None else int(order_stats[1][w]),
            "later_agreed": None if order_stats is None else int(order_stats[2][w]),
            "later_n": None if order_stats is None else int(order_stats[3][w]),
        }
        s["top_answer_share"] = s["top_count"] / s["top_n"] if s["top_n"] else None
        others = n_j - s["top_n"]
        s["top_pool_share"] = (float((totals[top[0][w]] - s["top_count"]) / others)
                               if s["top_label"] is not None and others > 0 else None)
        s["findings"] = evaluate_worker(s, pool, rules) if n_judgments[w] else []
        stats.append(s)

    real_items = np.unique(items[real]) if n_j else np.zeros(0)
    nan_to_none = float("nan")
    return ProjectScore(answers=answers, confidence=np.asarray(confidence, dtype=np.float64), method=method,
                        alpha=alpha if np.isfinite(alpha) else nan_to_none, level=level,
                        fleiss_kappa=kappa if np.isfinite(kappa) else nan_to_none, n_tasks=int(real_items.size),
                        n_judgments=int(real.sum()), workers=stats, pool=pool, model=model,
                        span_answers=span_answers, span_agreement=span_agreement)
