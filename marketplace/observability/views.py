"""GET /metrics: Prometheus text format. Not public: a bearer token (METRICS_TOKEN) or a client address in
METRICS_ALLOWED_NETWORKS lets a scraper in; anything else is 403 (401 for a wrong token), with nothing
about the marketplace in the answer."""

import hmac
import ipaddress
import os
from functools import lru_cache

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from marketplace.observability.gauges import MarketplaceCollector


@lru_cache(maxsize=1)
def _registry():
    """The default registry (django-prometheus's request and database metrics, our counters) plus our gauges;
    in multiprocess mode the counters of every process come from PROMETHEUS_MULTIPROC_DIR instead."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    registry.register(MarketplaceCollector())
    return registry


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]):
    return [ipaddress.ip_network(item, strict=False) for item in spec]


def _client_address(request):
    from allauth.account.adapter import get_adapter

    try:
        return ipaddress.ip_address(get_adapter().get_client_ip(request))
    except (ValueError, TypeError):
        return None


def _refuse(status: int, message: str) -> JsonResponse:
    response = JsonResponse({"error": {"code": "metrics_forbidden" if status == 403 else "not_authenticated",
                                       "message": message}}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@never_cache
@require_GET
def metrics_view(request):
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, given = header.partition(" ")
        if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return _render()
        return _refuse(401, "Wrong metrics token.")
    address = _client_address(request)
    if address is not None and any(address in net for net in _networks(tuple(settings.METRICS_ALLOWED_NETWORKS))):
        return _render()
    return _refuse(403, "Metrics need a bearer token (METRICS_TOKEN) or an address in METRICS_ALLOWED_NETWORKS.")


def _render():
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
