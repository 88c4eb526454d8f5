"""Thin DRF views of the payments app: validate, call one service or selector, serialize."""
