"""Label filters over clusters. A filter is one or more terms joined by commas (all must hold):

- `key=value`: the cluster has the label with that value;
- `key`: the cluster has the label, whatever its value;
- `key!=value`: the cluster has no such label with that value (a cluster without the key matches).

Keys and values follow the rules of upgrades/models/labels.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from django.db.models import Q, QuerySet

from upgrades.models import Cluster, ClusterLabel
from upgrades.models.labels import label_key_problem, label_value_problem


class LabelFilterError(ValueError):
    """A label filter that cannot be read; its message says which term and why."""


@dataclass(frozen=True)
class LabelTerm:
    key: str
    op: Literal["=", "!=", "exists"]
    value: str = ""

    def __str__(self) -> str:
        return self.key if self.op == "exists" else f"{self.key}{self.op}{self.value}"

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether a cluster with `labels` (key -> value) satisfies the term."""
        if self.op == "exists":
            return self.key in labels
        if self.op == "=":
            return labels.get(self.key) == self.value
        return labels.get(self.key) != self.value


def parse_label_term(text: str) -> LabelTerm:
    """One term: `key=value`, `key!=value` or `key`; LabelFilterError when it is none of them."""
    term = (text or "").strip()
    if not term:
        raise LabelFilterError("empty label filter: write key=value, key!=value or key")
    if "!=" in term:
        key, value = term.split("!=", 1)
        op: Literal["=", "!=", "exists"] = "!="
    elif "=" in term:
        key, value = term.split("=", 1)
        op = "="
    else:
        key, value, op = term, "", "exists"
    key, value = key.strip(), value.strip()
    problem = label_key_problem(key) or (label_value_problem(value) if op != "exists" else "")
    if problem:
        raise LabelFilterError(f"label filter {term!r}: {problem}")
    return LabelTerm(key=key, op=op, value=value)


def parse_label_selector(text: str) -> list[LabelTerm]:
    """Comma-separated terms, all of which must hold."""
    if not (text or "").strip():
        raise LabelFilterError("empty label filter: write key=value, key!=value or key")
    return [parse_label_term(part) for part in text.split(",")]


def parse_label_filter(text: str) -> tuple[str, str]:
    """Exactly `key=value` (what maintenance windows and the approval setting select by) -> (key, value)."""
    term = parse_label_term(text)
    if term.op != "=":
        raise LabelFilterError(f"label filter {text.strip()!r}: write it as key=value")
    return term.key, term.value


def label_q(terms: Iterable[LabelTerm]) -> Q:
    """A Q over Cluster for terms, all of which must hold (each is a subquery on ClusterLabel)."""
    condition = Q()
    for term in terms:
        labelled = ClusterLabel.objects.filter(key=term.key)
        if term.op != "exists":
            labelled = labelled.filter(value=term.value)
        has = Q(pk__in=labelled.values("cluster_id"))
        condition &= ~has if term.op == "!=" else has
    return condition


def filter_clusters_by_label(queryset: QuerySet[Cluster], text: str) -> QuerySet[Cluster]:
    """`queryset` narrowed to the clusters matching the label filter `text` (LabelFilterError if unreadable)."""
    return queryset.filter(label_q(parse_label_selector(text)))


def labels_by_cluster(cluster_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """cluster id -> {key: value}, keys in order, for every id given (an id without labels maps to {}); one query."""
    ids = list(cluster_ids)
    found: dict[int, dict[str, str]] = defaultdict(dict)
    rows = ClusterLabel.objects.filter(cluster_id__in=ids).order_by("cluster_id", "key")
    for cluster_id, key, value in rows.values_list("cluster_id", "key", "value"):
        found[cluster_id][key] = value
    return {cluster_id: found.get(cluster_id, {}) for cluster_id in ids}


def cluster_labels(cluster: Cluster) -> dict[str, str]:
    """One cluster's labels, key -> value, in key order."""
    return labels_by_cluster([cluster.pk])[cluster.pk]
