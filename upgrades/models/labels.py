"""Labels on clusters (`env=prod`, `region=hangzhou`): what filters, maintenance windows and the approval rule
select clusters by. The syntax rules live here, the one home every layer checks against:

- a key is 1 to 63 characters: lowercase letters, digits, `_`, `.` and `-`, starting with a letter or a digit;
- a value is 1 to 63 printable ASCII characters other than a space, `,`, `=` and `!` (those separate labels
  and filter terms: `env=prod,region!=hangzhou`). Values are case-sensitive, keys are lowercase.
"""

import re

from django.db import models

LABEL_KEY_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
# \x21 "!", \x2c ",", \x3d "=" are left out of the printable range \x21-\x7e (space, \x20, is below it).
LABEL_VALUE_RE = re.compile(r"[\x22-\x2b\x2d-\x3c\x3e-\x7e]{1,63}")
LABEL_KEY_RULE = "1 to 63 lowercase letters, digits, '_', '.' or '-', starting with a letter or a digit"
LABEL_VALUE_RULE = "1 to 63 printable characters, without spaces, ',', '=' or '!'"


def label_key_problem(key: str) -> str:
    """Why `key` is not a label key ("" when it is one)."""
    if LABEL_KEY_RE.fullmatch(key or ""):
        return ""
    return f"label key {key!r} is not {LABEL_KEY_RULE}"


def label_value_problem(value: str) -> str:
    """Why `value` is not a label value ("" when it is one)."""
    if LABEL_VALUE_RE.fullmatch(value or ""):
        return ""
    return f"label value {value!r} is not {LABEL_VALUE_RULE}"


class ClusterLabel(models.Model):
    cluster = models.ForeignKey("upgrades.Cluster", on_delete=models.CASCADE, related_name="labels")
    key = models.CharField(max_length=63)
    value = models.CharField(max_length=63)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cluster", "key"]
        constraints = [models.UniqueConstraint(fields=["cluster", "key"], name="cluster_label_unique_key")]
        indexes = [models.Index(fields=["key", "value"], name="cluster_label_key_value")]

    def __str__(self):
        return f"{self.key}={self.value}"
