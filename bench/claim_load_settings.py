"""Settings for bench/claim_load.py's gunicorn: the real settings plus a URLconf with one trivial
authenticated endpoint (the ceiling the claim endpoint is compared with). Never used outside the bench."""

from marketplace.settings import *  # noqa: F403

ROOT_URLCONF = "bench.claim_load_urls"
