"""Reads shared by every layer that presents or schedules clusters (pages, commands, campaigns).

- `labels`: parsing label filters (`env=prod`, `env`, `env!=prod`, comma for "and"), filtering a cluster
  queryset by them, and every cluster's labels in one query.

A core module: it imports only models and libraries.
"""
