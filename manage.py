#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    try:
        from django.core.management import execute_from_command_line
    except ModuleNotFoundError as error:
        if error.name != "django":
            raise
        # A python outside .venv (python3 manage.py ...): say how to run it, not a traceback.
        sys.exit(f"manage.py: Django is not installed for this python ({sys.executable}): "
                 "run .venv/bin/python manage.py ... (make run creates .venv), or make run.")

    execute_from_command_line(sys.argv)
