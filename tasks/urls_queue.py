"""Worker queue routes (X-Session-Token): claim, submit, release, list."""

urlpatterns: list = []
