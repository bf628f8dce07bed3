"""Notifications of upgrade events (README: Notifications), below the engine so its workers can run them.

- net.py      the SSRF guard (which addresses a webhook may reach) and one bounded HTTP POST pinned to the
              address that was checked (no redirects, bounded time and answer size).
- formats.py  what each format sends: the generic signed JSON, Slack, DingTalk and Feishu robots, email.
- outbox.py   DagEvents -> Delivery rows, read per DAG past a cursor in one transaction.
- sender.py   sending due deliveries: a per-delivery claim, retries with exponential backoff.
- jobs.py     the periodic job the workers run (enqueue, then wake this process's sender thread).
"""
