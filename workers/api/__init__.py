"""Thin DRF views of the workers app: the worker's own profile, quizzes, and ops' pools and workers."""
