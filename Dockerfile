# One image for web, worker, beat and the fake Stripe server.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# bubblewrap and Node for the sandbox worker (docs/sandbox.md); the other services never run code with them.
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap nodejs && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# The folders the app writes (settings' VAR_DIR: mail files, static), owned by the user it runs as: a named
# volume mounted on one (compose's mail) starts with this owner, else root's and unwritable.
RUN useradd --create-home app && mkdir -p /app/var/mail /app/var/static && chown -R app /app/var
USER app
# collectstatic needs settings, not production secrets: it runs with the development settings (DEBUG=1
# only for this command; the image runs with the environment compose or the deployment gives it).
RUN DEBUG=1 python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "marketplace.wsgi", "-c", "gunicorn_conf.py", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
