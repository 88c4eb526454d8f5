"""Flags: opened by the rules (with the actions their severity calls for), resolved by ops.

Actions per severity come from settings.QUALITY_ACTIONS (default: review -> hold earnings; suspend ->
suspend, requeue the worker's judgments on unfinished tasks, hold earnings). Each action runs through
quality.actions (the other apps' services); one that refuses is recorded on the flag and
in the audit log, and the others still run.
"""

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace.errors import Conflict, NotFound, ValidationFailed
from quality.actions import lever
from quality.models import Flag, QualityAuditEvent, WorkerStanding
from tasks.models import Judgment, Project

logger = logging.getLogger(__name__)

DEFAULT_ACTIONS = {"review": ["hold"], "suspend": ["suspend", "requeue", "hold"]}
Action = QualityAuditEvent.Action


def _audit(action: str, *, flag: Flag | None = None, worker_id=None, project_id=None, actor_id=None, **detail):
    QualityAuditEvent.objects.create(action=action, flag=flag, worker_id=worker_id or (flag and flag.worker_id),
                                     project_id=project_id or (flag and flag.project_id), actor_id=actor_id,
                                     detail=detail)


def _actions_for(severity: str) -> list[str]:
    return list(getattr(settings, "QUALITY_ACTIONS", DEFAULT_ACTIONS).get(severity, []))


def _call(flag: Flag, name: str, **kwargs):
    """Run one lever inside a savepoint; (ok, result). A refusing lever is recorded."""
    fn = lever(name)
    try:
        with transaction.atomic():
            return True, fn(**kwargs)
    except Exception as exc:  # noqa: BLE001 - one refusing lever must not stop the others; it is recorded
        flag.actions.setdefault("errors", []).append({"lever": name, "error": str(exc)})
        _audit(Action.ACTION_UNAVAILABLE, flag=flag, lever=name, error=str(exc))
        logger.warning("quality lever %s failed for flag %s: %s", name, flag.pk, exc)
        return False, None


def _suspend(flag: Flag, project: Project, reason: str) -> None:
    scope = getattr(settings, "QUALITY_SUSPEND_SCOPE", "pool")
    if scope == "pool" and project.pool_id:
        ok, _ = _call(flag, "pool_membership_suspend", pool_id=project.pool_id, worker_id=flag.worker_id, reason=reason)
        if ok:
            flag.actions["pool_suspended"] = project.pool_id
            _audit(Action.POOL_SUSPENDED, flag=flag, pool_id=project.pool_id)
            return
    ok, _ = _call(flag, "worker_suspend", worker_id=flag.worker_id, reason=reason)
    if ok:
        flag.actions["worker_suspended"] = True
        _audit(Action.WORKER_SUSPENDED, flag=flag)


def _apply(flag: Flag, project: Project, severity: str) -> None:
    reason = f"quality flag {flag.pk}: {flag.rule}"
    for action in _actions_for(severity):
        if action == "suspend" and not (flag.actions.get("pool_suspended") or flag.actions.get("worker_suspended")):
            _suspend(flag, project, reason)
        elif action == "requeue" and "requeued_judgment_ids" not in flag.actions:
            ok, ids = _call(flag, "judgments_requeue_for_worker", worker_id=flag.worker_id, project_id=project.pk,
                            reason=reason)
            if ok:
                flag.actions["requeued_judgment_ids"] = ids
                from quality.services.recompute import project_refit_needed  # recompute imports this module

                project_refit_needed(project_id=project.pk)
                _audit(Action.JUDGMENTS_REQUEUED, flag=flag, judgment_ids=ids)
        elif action == "hold" and "held_cents" not in flag.actions:
            judgment_ids = list(Judgment.objects.filter(worker_id=flag.worker_id, project=project)
                                .order_by("id").values_list("id", flat=True))
            ok, cents = _call(flag, "earnings_hold", worker_id=flag.worker_id, judgment_ids=judgment_ids,
                              flag_id=flag.pk)
            if ok:
                flag.actions["held_cents"] = cents
                _audit(Action.EARNINGS_HELD, flag=flag, cents=cents, judgment_ids=judgment_ids)
    flag.save(update_fields=["actions", "severity"])


def _dismissed_on_similar_evidence(worker_id: int, project_id: int, evidence_n: int) -> bool:
    """Ops dismissed a flag of this worker here before: only flag again once the evidence has doubled."""
    for flag in Flag.objects.filter(worker_id=worker_id, project_id=project_id, status=Flag.Status.DISMISSED):
        if evidence_n < 2 * int(flag.evidence.get("n_judgments", 0) or 0):
            return True
    return False


def flag_raise(*, worker_id: int, project_id: int, findings: list[dict], n_judgments: int) -> Flag | None:
    """Open one flag for the worker in this project from the rules' findings of level review/suspend (the
    worst names the flag; all are in the evidence), or escalate the open flag to suspend, and run the
    actions. Idempotent: the open flag of (worker, project) is unique (database constraint), so a second
    run finds it and at most escalates. Returns the flag opened or escalated, else None."""
    actionable = [f for f in findings if f["level"] in ("review", "suspend")]
    if not actionable:
        return None
    worst = max(actionable, key=lambda f: f["level"] == "suspend")
    severity = worst["level"]
    project = Project.objects.get(pk=project_id)
    evidence = {**worst["evidence"], "n_judgments": n_judgments, "message": worst["message"],
                "findings": [{"rule": f["rule"], "level": f["level"], "message": f["message"], **f["evidence"]}
                             for f in actionable]}
    with transaction.atomic():
        existing = Flag.objects.select_for_update().filter(worker_id=worker_id, project_id=project_id,
                                                           status=Flag.Status.OPEN).first()
        if existing is not None:
            if severity == "suspend" and existing.severity != Flag.Severity.SUSPEND:
                existing.severity = Flag.Severity.SUSPEND
                existing.rule = worst["rule"]
                existing.evidence = evidence
                existing.save(update_fields=["severity", "rule", "evidence"])
                _audit(Action.FLAG_OPENED, flag=existing, rule=existing.rule, severity=severity, escalated=True)
                _apply(existing, project, "suspend")
                return existing
            return None
        if _dismissed_on_similar_evidence(worker_id, project_id, n_judgments):
            return None
        try:
            with transaction.atomic():
                flag = Flag.objects.create(worker_id=worker_id, project_id=project_id, rule=worst["rule"],
                                           severity=severity, evidence=evidence, actions={})
        except IntegrityError:  # a concurrent run opened it first
            return None
        _audit(Action.FLAG_OPENED, flag=flag, rule=flag.rule, severity=severity, evidence=evidence)
        _apply(flag, project, severity)
    return flag


def _still_suspended_by_other_flags(flag: Flag) -> bool:
    return Flag.objects.filter(worker_id=flag.worker_id, status=Flag.Status.OPEN,
                               severity=Flag.Severity.SUSPEND).exclude(pk=flag.pk).exists()


def standing_status_refresh(*, worker_id: int) -> None:
    """Align the worker's stored standings' status with their open flags (after a flag opens or resolves)."""
    standings = WorkerStanding.objects.filter(worker_id=worker_id)
    open_flags = list(Flag.objects.filter(worker_id=worker_id, status=Flag.Status.OPEN).values_list("project_id",
                                                                                                     "severity"))
    for standing in standings:
        relevant = [sev for pid, sev in open_flags if standing.project_id in (None, pid)]
        if Flag.Severity.SUSPEND in relevant:
            status = WorkerStanding.Status.SUSPENDED
        elif relevant:
            status = WorkerStanding.Status.FLAGGED
        elif any(r.get("level") in ("watch", "review", "suspend") for r in standing.reasons or []):
            status = WorkerStanding.Status.WATCH
        else:
            status = WorkerStanding.Status.GOOD
        if status != standing.status:
            WorkerStanding.objects.filter(pk=standing.pk).update(status=status)


def flag_resolve(*, flag_id: int, decision: str, note: str = "", actor_id: int) -> Flag:
    """Ops decide an open flag. confirm: the worker is suspended (pool or platform, QUALITY_SUSPEND_SCOPE)
    and their judgments on unfinished tasks go back to the queue if that had not happened yet, and held
    earnings are forfeited. dismiss: held
    earnings are released and the suspension this flag caused is lifted (unless another open suspending
    flag still holds). Locks the flag row; a flag that is not open is a 409, and nothing changes."""
    if decision not in ("confirm", "dismiss"):
        raise ValidationFailed("decision must be confirm or dismiss.", fields={"decision": ["must be confirm or dismiss"]})
    with transaction.atomic():
        flag = Flag.objects.select_for_update().filter(pk=flag_id).first()
        if flag is None:
            raise NotFound("No such flag.")
        if flag.status != Flag.Status.OPEN:
            raise Conflict(f"Flag {flag.pk} is already {flag.status}.", code="flag_resolved",
                           extra={"flag": flag.pk, "status": flag.status})
        flag.status = Flag.Status.CONFIRMED if decision == "confirm" else Flag.Status.DISMISSED
        flag.resolved_by_id = actor_id
        flag.resolved_at = timezone.now()
        flag.note = note
        _audit(Action.FLAG_CONFIRMED if decision == "confirm" else Action.FLAG_DISMISSED, flag=flag,
               actor_id=actor_id, note=note)
        if decision == "confirm":
            # Ops agree the rater is bad: whatever a "review" flag left undone (suspension, putting their
            # judgments back in the queue) happens now, so a confirmed rater stops working and earning.
            _apply(flag, Project.objects.get(pk=flag.project_id), "suspend")
            ok, cents = _call(flag, "earnings_hold_forfeit", flag_id=flag.pk)
            if ok:
                flag.actions["forfeited_cents"] = cents
                _audit(Action.HOLD_FORFEITED, flag=flag, actor_id=actor_id, cents=cents)
        else:
            ok, cents = _call(flag, "earnings_hold_release", flag_id=flag.pk)
            if ok:
                flag.actions["released_cents"] = cents
                _audit(Action.HOLD_RELEASED, flag=flag, actor_id=actor_id, cents=cents)
            _reinstate(flag, actor_id)
        flag.save(update_fields=["status", "resolved_by", "resolved_at", "note", "actions"])
        standing_status_refresh(worker_id=flag.worker_id)
    return flag


def _reinstate(flag: Flag, actor_id: int) -> None:
    if _still_suspended_by_other_flags(flag):
        return
    reason = f"quality flag {flag.pk} dismissed"
    if flag.actions.get("pool_suspended"):
        ok, _ = _call(flag, "pool_membership_reinstate", pool_id=flag.actions["pool_suspended"],
                      worker_id=flag.worker_id, reason=reason, actor_id=actor_id)
        if ok:
            flag.actions["pool_reinstated"] = True
            _audit(Action.WORKER_REINSTATED, flag=flag, actor_id=actor_id, pool_id=flag.actions["pool_suspended"])
    if flag.actions.get("worker_suspended"):
        ok, _ = _call(flag, "worker_reinstate", worker_id=flag.worker_id, reason=reason, actor_id=actor_id)
        if ok:
            flag.actions["worker_reinstated"] = True
            _audit(Action.WORKER_REINSTATED, flag=flag, actor_id=actor_id)
