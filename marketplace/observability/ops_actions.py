"""The ops console's flags as people read them, and what ops do with several at once.

- A flag's evidence and the actions taken, in sentences (the rules' figures, not their JSON keys).
- A worker's answers: their latest judgments on the flag's project (a console page, bounded).
- Bulk confirm or dismiss: quality's flag_resolve for each flag, each in its own transaction, so one flag
  already decided (or missing) is reported and the others still go through.
"""

import json

from django.contrib import admin, messages
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from marketplace.errors import ServiceError
from marketplace.templatetags.consoles import money_text

BULK_MAX = 100
JUDGMENTS_SHOWN = 100


def _ops(request):
    from marketplace.observability.console_views import _role

    _role(request, "ops")


def _share(value) -> str:
    try:
        return f"{float(value):.0%}"
    except (TypeError, ValueError):
        return "?"


def _p(value) -> str:
    try:
        return f"p = {float(value):.2g}"
    except (TypeError, ValueError):
        return "p unknown"


def _plain(key: str) -> str:
    return key.replace("_", " ")


def finding_sentence(finding: dict) -> str:
    """One rule's finding in words: its level, its message and the figures behind it."""
    rule, f = finding.get("rule"), finding
    if rule == "fast":
        detail = (f"Median {f.get('median_seconds')} s per task over {f.get('n_timed')} timed judgments "
                  f"(the floor is {f.get('floor')} s).")
    elif rule == "gold":
        detail = (f"{f.get('gold_correct')} of {f.get('gold_n')} gold answers right; at best {_share(f.get('gold_upper'))} "
                  f"accurate (95% upper bound), below the {_share(f.get('threshold'))} needed.")
    elif rule == "agreement":
        detail = (f"Agrees with the other raters {_share(f.get('loo_agreement'))} of the time over {f.get('loo_n')} "
                  f"judgments; the pool's median is {_share(f.get('pool_median'))} ({_p(f.get('p_value'))}).")
    elif rule == "same_answer":
        n, count = f.get("n") or 0, f.get("count") or 0
        detail = (f"Answered {json.dumps(f.get('answer'))} {count} times in {n} ({_share(count / n if n else 0)}); "
                  f"the pool gives that answer {_share(f.get('pool_share'))} of the time ({_p(f.get('p_value'))}).")
    elif rule == "random":
        detail = (f"Over {f.get('random_n')} judgments the answers fit random answering better than honest work "
                  f"(log likelihood ratio {f.get('log_lr')}; review from {f.get('threshold')}, suspend from "
                  f"{f.get('suspend_threshold')}).")
    else:  # a rule this page does not know yet: its figures as "name: value"
        skip = {"rule", "level", "message", "findings"}
        detail = "; ".join(f"{_plain(k)}: {v}" for k, v in sorted(f.items()) if k not in skip)
        detail = f"{detail[:1].upper()}{detail[1:]}." if detail else ""
    level = {"suspend": "Suspend", "review": "Review", "watch": "Watch"}.get(finding.get("level"), "")
    message = finding.get("message") or ""
    return " ".join(part for part in (f"{level}:" if level else "", message, detail) if part)


def evidence_sentences(flag) -> list[str]:
    evidence = flag.evidence or {}
    findings = evidence.get("findings") or [{"rule": flag.rule, "level": flag.severity, **evidence}]
    sentences = [finding_sentence(f) for f in findings if isinstance(f, dict)]
    if evidence.get("n_judgments"):
        sentences.append(f"Measured over {evidence['n_judgments']} of their judgments on this project.")
    return sentences


def action_sentences(flag) -> list[str]:
    actions, currency = flag.actions or {}, flag.project.currency
    out = []
    if "held_cents" in actions:
        out.append(f"Earnings held: {money_text(actions['held_cents'], currency)}.")
    if actions.get("pool_suspended"):
        out.append("Suspended from the project's pool.")
    if actions.get("worker_suspended"):
        out.append("Suspended from all work on the platform.")
    if "requeued_judgment_ids" in actions:
        n = len(actions["requeued_judgment_ids"] or [])
        out.append(f"{n} judgment{'s' if n != 1 else ''} on unfinished tasks put back in the queue." if n
                   else "No judgment on an unfinished task needed putting back in the queue.")
    if "forfeited_cents" in actions:
        out.append(f"Held earnings forfeited: {money_text(actions['forfeited_cents'], currency)}.")
    if "released_cents" in actions:
        out.append(f"Held earnings released: {money_text(actions['released_cents'], currency)}.")
    if actions.get("pool_reinstated") or actions.get("worker_reinstated"):
        out.append("Reinstated.")
    for error in actions.get("errors") or []:
        out.append(f"Could not {_plain(str(error.get('lever', 'act')))}: {error.get('error', 'refused')}.")
    return out or ["Nothing yet."]


OUTLIER_RATIO = 4  # the top figure is off the scale when it exceeds the next one this many times
AXIS_HEADROOM = 1.5


def pay_chart(rows: list[dict], floor_cents: int) -> dict:
    """The pay chart's data in currency units, with its axis capped when one figure would flatten the
    others: when the highest exceeds OUTLIER_RATIO x the next (and twice the floor), the axis ends at
    AXIS_HEADROOM x max(next, floor) and every bar beyond is drawn to the edge and listed as off the scale."""
    values = [row["hourly_cents"] for row in rows]
    known = sorted((v for v in values if v is not None), reverse=True)
    axis_max, outliers = None, []
    if len(known) >= 2 and known[0] > OUTLIER_RATIO * max(known[1], 1) and known[0] > 2 * floor_cents:
        cap = AXIS_HEADROOM * max(known[1], floor_cents)
        axis_max = round(cap / 100, 2)
        outliers = [{"index": i, "project": rows[i]["project"].name,
                     "text": money_text(v, rows[i]["project"].currency)} for i, v in enumerate(values)
                    if v is not None and v > cap]
    return {"hourly": [None if v is None else v / 100 for v in values], "floor": floor_cents / 100,
            "pay_axis_max": axis_max, "pay_outliers": outliers}


def flag_rows(flags) -> list[dict]:
    return [{"flag": flag, "evidence": evidence_sentences(flag), "actions": action_sentences(flag)} for flag in flags]


@require_POST
def flags_bulk_resolve(request):
    _ops(request)
    from quality.services.flags import flag_resolve

    raw = request.POST.getlist("flag")
    if not all(value.isdigit() for value in raw) or len(raw) > BULK_MAX:
        return HttpResponseBadRequest(f"flag: give up to {BULK_MAX} flag ids (whole numbers).")
    decision = request.POST.get("decision", "")
    ids = sorted({int(value) for value in raw})
    if not ids:
        messages.error(request, "Tick at least one flag, then confirm or dismiss.")
        return HttpResponseRedirect(reverse("console-ops"))
    note, done, refused = request.POST.get("note", "")[:2000], [], []
    for flag_id in ids:  # each in flag_resolve's own transaction: one refusal leaves the others decided
        try:
            flag = flag_resolve(flag_id=flag_id, decision=decision, note=note, actor_id=request.user.pk)
        except ServiceError as exc:
            refused.append(f"flag {flag_id}: {exc.message}")
        else:
            done.append(flag)
    if done:
        verb = "confirmed" if decision == "confirm" else "dismissed"
        messages.success(request, f"{len(done)} flag{'s' if len(done) != 1 else ''} {verb}: "
                                  + ", ".join(f"{f.worker} on {f.project}" for f in done) + ".")
    if refused:
        messages.error(request, "Not decided: " + "; ".join(refused))
    return HttpResponseRedirect(reverse("console-ops"))


@require_GET
def worker_judgments(request, worker_id: int):
    """A worker's latest judgments (on one project with ?project=), for ops reading a flag: answers,
    time, gold and status, newest first, at most JUDGMENTS_SHOWN (the (worker, project) index)."""
    _ops(request)
    from django.contrib.auth import get_user_model

    from quality.models import Flag, WorkerStanding
    from tasks.models import Judgment, Project

    worker = get_object_or_404(get_user_model(), pk=worker_id)
    project_raw = request.GET.get("project", "")
    if project_raw and not project_raw.isdigit():
        return HttpResponseBadRequest("project: give a project id (a whole number).")
    project = get_object_or_404(Project, pk=int(project_raw)) if project_raw else None
    judgments = Judgment.objects.filter(worker=worker)
    standings = WorkerStanding.objects.filter(worker=worker)
    if project is not None:
        judgments, standings = judgments.filter(project=project), standings.filter(project=project)
    rows = [{"judgment": j, "answer": json.dumps(j.answer, ensure_ascii=False)[:300]}
            for j in judgments.select_related("task", "project").order_by("-id")[:JUDGMENTS_SHOWN]]
    flags = Flag.objects.filter(worker=worker).select_related("project").order_by("-id")[:20]
    context = {**admin.site.each_context(request), "title": f"Answers of {worker}", "worker": worker,
               "project": project, "rows": rows, "standings": list(standings.select_related("project")[:20]),
               "flags": flags, "shown": JUDGMENTS_SHOWN}
    return TemplateResponse(request, "marketplace/console_ops_worker.html", context)


def urlpatterns():
    from django.urls import path

    wrap = admin.site.admin_view
    return [
        path("admin/ops/flags/resolve", wrap(flags_bulk_resolve), name="console-ops-flags-bulk"),
        path("admin/ops/workers/<int:worker_id>/judgments", wrap(worker_judgments), name="console-ops-worker"),
    ]
