"""Celery jobs of tasks/ (autodiscovered as tasks.jobs): client-facing jobs and queue jobs."""

from tasks.jobs.clients import *  # noqa: F401,F403
from tasks.jobs.execution import *  # noqa: F401,F403
from tasks.jobs.queue import *  # noqa: F401,F403
from tasks.jobs.reviews import *  # noqa: F401,F403
