"""Stripe's form encoding: metadata[key]=v, capabilities[transfers][requested]=true, expand[0]=x."""

import re
from urllib.parse import parse_qsl

_PART = re.compile(r"\[([^\]]*)\]")


def decode(body: str) -> dict:
    """a=1&metadata[k]=v&items[0][x]=y -> {"a": "1", "metadata": {"k": "v"}, "items": [{"x": "y"}]}."""
    root: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head = key.split("[", 1)[0]
        parts = [head] + _PART.findall(key[len(head):])
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _lists(root)


def _lists(node):
    # {"0": a, "1": b} -> [a, b] (Stripe encodes arrays with indexes)
    if isinstance(node, dict):
        node = {k: _lists(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


def fingerprint(method: str, path: str, params: dict) -> str:
    """What "the same request" means for idempotency: method, path and parameters."""
    import json

    return json.dumps([method, path, params], sort_keys=True)
