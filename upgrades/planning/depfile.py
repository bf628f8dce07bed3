"""Reading `oceanbase_upgrade_dep.yml` under a budget: validated when its package is uploaded, and again
(the same function) whenever a route is planned from it.

The file is a list of entries (spec 4.1): `version` (a string), `can_be_upgraded_to` (a list of strings),
`deprecated` (a bool) and `require_from_binary` (a bool, or a map `{value: bool, when_come_from: [strings]}`).

Rules (issue 9, "Parsers have budgets"):
* YAML anchors and aliases are refused while the document is composed, so nothing is ever expanded: a
  427-byte file of nested aliases stands for gigabytes once expanded, and obshell's files never use them.
* The text, the number of entries, the nesting depth and every string are bounded.
* Where obshell expects a string the value must be a plain scalar; its text is taken as written (what Go's
  YAML decoder puts into a string field), so `4.10` stays `4.10`. A list or a map there is refused.
* Unknown keys are ignored, as Go ignores fields it does not know.
* Error messages name a key and a line, never the offending value.
"""

import yaml

MAX_BYTES = 1024 * 1024
MAX_ENTRIES = 10_000
MAX_DEPTH = 8  # the schema needs 4: list > entry > require_from_binary > when_come_from
MAX_STRING = 256

_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"


class DepFileError(ValueError):
    """The dep file is not one this server will read; the message is safe to show."""


def _line(node_or_event):
    mark = getattr(node_or_event, "start_mark", None)
    return f"line {mark.line + 1}" if mark is not None else "the document"


class DepFileLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing anchors, aliases and deep nesting while composing (before any
    object is built)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise DepFileError(f"YAML anchors and aliases are not allowed ({_line(event)})")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise DepFileError(f"nesting deeper than {MAX_DEPTH} levels ({_line(event)})")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _compose(text):
    loader = DepFileLoader(text)
    try:
        return loader.get_single_node()
    except yaml.YAMLError as exc:
        # A YAML error's text quotes at most one line of the file around the mark.
        raise DepFileError(f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()


def _string(node, what):
    if not isinstance(node, yaml.ScalarNode):
        raise DepFileError(f"{what} must be a string ({_line(node)})")
    if node.tag == _NULL_TAG:
        return ""
    if len(node.value) > MAX_STRING:
        raise DepFileError(f"{what} is longer than {MAX_STRING} characters ({_line(node)})")
    return node.value.strip()


def _strings(node, what):
    if isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG:
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise DepFileError(f"{what} must be a list of strings ({_line(node)})")
    return [_string(item, f"an item of {what}") for item in node.value]


def _bool(node, what):
    if isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG:
        return False
    if not isinstance(node, yaml.ScalarNode) or node.tag != _BOOL_TAG:
        raise DepFileError(f"{what} must be true or false ({_line(node)})")
    return yaml.SafeLoader.bool_values[node.value.lower()]


def _fields(node, what):
    """A mapping node's keys (plain strings) and value nodes."""
    if not isinstance(node, yaml.MappingNode):
        raise DepFileError(f"{what} must be a map ({_line(node)})")
    fields = {}
    for key, value in node.value:
        fields[_string(key, f"a key of {what}")] = value
    return fields


def _require_from_binary(node, what):
    if isinstance(node, yaml.MappingNode):
        fields = _fields(node, what)
        value = _bool(fields["value"], f"{what}.value") if "value" in fields else False
        when = _strings(fields["when_come_from"], f"{what}.when_come_from") if "when_come_from" in fields else []
        return {"value": value, "when_come_from": when}
    if isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG:
        return None
    return _bool(node, what)


def _entry(node, number):
    what = f"entry {number}"
    fields = _fields(node, what)
    if "version" not in fields:
        raise DepFileError(f"{what} has no version ({_line(node)})")
    version = _string(fields["version"], f"{what}: version")
    if not version:
        raise DepFileError(f"{what} has no version ({_line(node)})")
    what = f"version {version}"
    entry = {"version": version}
    if "can_be_upgraded_to" in fields:
        entry["can_be_upgraded_to"] = _strings(fields["can_be_upgraded_to"], f"{what}: can_be_upgraded_to")
    if "deprecated" in fields:
        entry["deprecated"] = _bool(fields["deprecated"], f"{what}: deprecated")
    if "require_from_binary" in fields:
        entry["require_from_binary"] = _require_from_binary(
            fields["require_from_binary"], f"{what}: require_from_binary"
        )
    return entry


def load_dep_file(text):
    """The validated entries of a dep file: a list of dicts of plain strings, lists of strings and bools.
    Raises DepFileError."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise DepFileError("not UTF-8 text") from None
    if len(text) > MAX_BYTES:
        raise DepFileError(f"larger than {MAX_BYTES} bytes")
    root = _compose(text)
    if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == _NULL_TAG):
        return []
    if not isinstance(root, yaml.SequenceNode):
        raise DepFileError("not a list of versions")
    if len(root.value) > MAX_ENTRIES:
        raise DepFileError(f"more than {MAX_ENTRIES} versions")
    return [_entry(node, number) for number, node in enumerate(root.value, start=1)]
