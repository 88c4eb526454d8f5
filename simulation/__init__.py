"""A day in the marketplace, simulated through the real HTTP API (`manage.py simulate`).

A client pushes a pairwise code-comparison project built from the bundled dataset (data/code_pairs.json);
simulated freelancers with planted behaviours sign up, verify by mail, qualify, connect Stripe on the
fake server and work concurrently; Celery scores them; ops and finance do their part; the report compares
what the marketplace concluded with the truth only the simulator knows.

Modules: dataset (bundled items -> tasks, gold, quiz questions), behaviours (planted worker behaviours),
http (a small API client that times every call), mailbox (verification mails), receiver (the client's
webhook endpoint), actors (people), runner (the phases), report and charts (the figures).
"""
