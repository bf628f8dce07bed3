"""Go's strconv.Atoi and strconv.Quote, where obshell's answers depend on them (spec 4 step 8, 3.1)."""

import re

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
_INT_RE = re.compile(r"[+-]?[0-9]+")
_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v"}


def go_quote(text):
    """strconv.Quote: printable characters kept, quotes and backslashes escaped, control characters spelled."""
    out = ['"']
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def go_atoi(text):
    """(value, error text or None) as strconv.Atoi returns them on a 64-bit build: an optional sign and ASCII
    digits; out of range clamps to the int64 bound (callers that ignore the error see that value)."""
    if not _INT_RE.fullmatch(text):
        return 0, f"strconv.Atoi: parsing {go_quote(text)}: invalid syntax"
    value = int(text)
    if value > INT64_MAX:
        return INT64_MAX, f"strconv.Atoi: parsing {go_quote(text)}: value out of range"
    if value < INT64_MIN:
        return INT64_MIN, f"strconv.Atoi: parsing {go_quote(text)}: value out of range"
    return value, None


def go_atoi_lenient(text):
    """`v, _ := strconv.Atoi(s)`, as obshell's CompareVersion reads version parts: a part that is not a number
    counts as 0."""
    value, error = go_atoi(text)
    return 0 if error and "invalid syntax" in error else value
