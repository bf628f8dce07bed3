"""obshell generic ids (spec 6.1): "1" + row id for cluster items; "2"/"4" + 10-digit IPv4 + 5-digit port + id
and "3"/"5" + 39-digit IPv6 + 5-digit port + id for agent-local and obproxy items, which this server has none of."""

from upgrades.errors import bad_request, not_found

CLUSTER = "1"
_LOCAL_MIN_LENGTH = {"2": 17, "4": 17, "3": 46, "5": 46}
MAX_INT64 = 2**63 - 1


def task_not_found(reason="record not found"):
    return not_found("Task.NotFound", f"Task not found: {reason}")


def invalid(generic_id):
    return bad_request("Task.GenericID.Invalid", f"Invalid generic id: '{generic_id}'")


def parse_generic_id(generic_id, *, kind="dag"):
    """The row id of a cluster item; 400 for a malformed id, 404 for an id naming nothing here."""
    if not generic_id or not generic_id.isascii() or not generic_id.isdigit():
        raise invalid(generic_id)
    prefix, tail = generic_id[0], generic_id[1:]
    if prefix == CLUSTER:
        if not tail:
            raise invalid(generic_id)
        row_id = int(tail)
        if row_id > MAX_INT64:
            raise invalid(generic_id)
        if f"{CLUSTER}{row_id}" != generic_id:
            raise task_not_found(f"{kind} id not match")
        return row_id
    minimum = _LOCAL_MIN_LENGTH.get(prefix)
    if minimum is None or len(generic_id) < minimum:
        raise invalid(generic_id)
    # A well-formed agent-local or obproxy id: this server keeps no such items.
    raise task_not_found()
