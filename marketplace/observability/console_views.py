"""The ops and finance consoles: admin pages (the admin's login, MFA and staff check) that each role alone
may open. Reads come from marketplace.observability.consoles; the one-click actions call the services
(quality's flag_resolve, payments' reconciliation) and come back here with a message."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from marketplace.errors import Conflict, NotFound, ValidationFailed
from marketplace.observability import consoles, ops_actions


def _role(request, role: str):
    user = request.user
    if not (user.is_ops if role == "ops" else user.is_finance):
        raise PermissionDenied(f"The {role} console is for the {role} role.")


def _render(request, template: str, title: str, context: dict):
    return TemplateResponse(request, template, {**admin.site.each_context(request), "title": title, **context})


@require_GET
def ops_console(request):
    _role(request, "ops")
    data = consoles.ops_console()
    data["flag_rows"] = ops_actions.flag_rows(data["flags"])  # evidence and actions in sentences
    chart = {"labels": [row["project"].name for row in data["projects"]],
             "judgments_24h": [row["judgments_24h"] for row in data["projects"]],
             **ops_actions.pay_chart(data["projects"], data["pay_floor_cents"])}  # units, outliers capped
    return _render(request, "marketplace/console_ops.html", "Ops console",
                   {**data, "chart": chart, "pay_outliers": chart["pay_outliers"]})


@require_POST
def ops_flag_resolve(request, flag_id: int):
    _role(request, "ops")
    from quality.services.flags import flag_resolve

    decision = request.POST.get("decision", "")
    try:
        flag = flag_resolve(flag_id=flag_id, decision=decision, note=request.POST.get("note", "")[:2000],
                            actor_id=request.user.pk)
    except (Conflict, NotFound, ValidationFailed) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Flag {flag.pk} on {flag.worker}: {flag.status}.")
    return HttpResponseRedirect(reverse("console-ops"))


@require_GET
def finance_console(request):
    _role(request, "finance")
    data = consoles.finance_console(user_id=request.user.pk)
    states = ["awaiting_clearance", "pending", "payable", "in_transit", "paid"]
    chart = {"currencies": [c.upper() for c in data["money"]], "states": states,
             "state_labels": ["pending (being checked)", "held for review", "payable", "in transit", "paid"],
             "units": {currency.upper(): [row.get(s, 0) / 100 for s in states]
                       for currency, row in data["money"].items()}}
    return _render(request, "marketplace/console_finance.html", "Finance console", {**data, "chart": chart})


@require_POST
def finance_reconcile(request):
    _role(request, "finance")
    try:
        report = consoles.reconciliation_run(actor=request.user)
    except Exception as exc:  # noqa: BLE001 - Stripe unreachable or refusing: say so on the page
        messages.error(request, f"Reconciliation could not run: {exc}")
    else:
        n = len(report["differences"])
        (messages.success if not n else messages.warning)(request, f"Reconciliation: {n} difference(s).")
    return HttpResponseRedirect(reverse("console-finance"))


def urlpatterns():
    from django.urls import path

    from marketplace.observability import finance_actions, ops_actions

    wrap = admin.site.admin_view
    return [
        *finance_actions.urlpatterns(),
        *ops_actions.urlpatterns(),
        path("admin/ops/", wrap(ops_console), name="console-ops"),
        path("admin/ops/flags/<int:flag_id>/resolve", wrap(ops_flag_resolve), name="console-ops-flag-resolve"),
        path("admin/finance/", wrap(finance_console), name="console-finance"),
        path("admin/finance/reconcile", wrap(finance_reconcile), name="console-finance-reconcile"),
    ]
