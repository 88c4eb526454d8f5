"""Scores of peer-reviewed text answers (issue 29): when a review task (tasks.AnswerReview) has its
rankings, Bradley-Terry (quality.consensus.bradley_terry, MM with a prior of half a win each way) scores each
reviewed answer; the best answer becomes the text task's consensus, with its score, and every answer's score
is stored per author (ExplanationScore)."""

import numpy as np
from django.db import transaction
from django.utils import timezone

from quality.consensus import bradley_terry_rankings
from quality.models import ExplanationScore, TaskConsensus
from tasks.models import AnswerReview, Judgment


def answer_scores(orders: list[list[int]], n_answers: int) -> tuple[list[float], float]:
    """Each answer's Bradley-Terry strength as a share (they sum to 1) and the ranking's confidence (mean,
    over adjacent answers of the consensus order, of the chance the higher beats the lower)."""
    _, confidence, strength = bradley_terry_rankings([0] * len(orders), orders, n_items=1, n_options=[n_answers])
    shares = strength / strength.sum()
    return [float(s) for s in shares], float(np.nan_to_num(confidence[0], nan=0.0))


def review_scores_apply(*, review_task_id: int) -> dict | None:
    """Score the answers a review task ranks, from its approved rankings; store each answer's score and make
    the best answer (ties: the earlier answer) the source task's consensus {text, score}. One transaction;
    idempotent (upserts of the same figures). None when the task reviews nothing or has no ranking yet."""
    review = AnswerReview.objects.select_related("source_task").filter(review_task_id=review_task_id).first()
    if review is None:
        return None
    n = len(review.judgment_ids)
    orders = [answer["order"] for answer in Judgment.objects.filter(
        task_id=review_task_id, status=Judgment.Status.APPROVED).values_list("answer", flat=True)
        if isinstance(answer, dict) and sorted(answer.get("order") or []) == list(range(n))]
    if not orders:
        return None
    shares, confidence = answer_scores(orders, n)
    authored = {j.pk: j for j in Judgment.objects.filter(pk__in=review.judgment_ids)}
    ranked = sorted(range(n), key=lambda i: (-shares[i], i))
    best = authored.get(review.judgment_ids[ranked[0]])
    now = timezone.now()
    source = review.source_task
    with transaction.atomic():
        for rank, i in enumerate(ranked, start=1):
            judgment = authored.get(review.judgment_ids[i])
            if judgment is None:
                continue
            ExplanationScore.objects.update_or_create(judgment=judgment, defaults={
                "task": source, "worker_id": judgment.worker_id, "score": min(1.0, max(0.0, shares[i])),
                "rank": rank, "n_reviews": len(orders), "computed_at": now})
        answer = {"text": (best.answer or {}).get("text", "") if best else "", "score": round(shares[ranked[0]], 6)}
        TaskConsensus.objects.update_or_create(task=source, defaults={
            "project_id": source.project_id, "answer": answer, "confidence": min(1.0, max(0.0, confidence)),
            "method": TaskConsensus.Method.BRADLEY_TERRY, "n_judgments": len(orders), "computed_at": now})
    return {"answer": answer, "confidence": confidence, "scores": shares}
