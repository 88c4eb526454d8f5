"""Runs untrusted Python and JavaScript (Node) code against its tests under bubblewrap (docs/sandbox.md).

The bottom of the app order: it imports nothing from the apps, so a sandbox machine needs only this
package, Django's settings and Celery."""
