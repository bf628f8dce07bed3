"""The pages' translatable text, found without GNU gettext (README: Language and time).

`messages()` reads every template under templates/ (Django's own `templatize`, which turns `{% translate %}` and
`{% blocktranslate %}` into the gettext calls makemessages would see), the Python of the pages, notifications and
models (gettext / gettext_lazy / pgettext / ngettext calls with literal text), and the pages' scripts
(`gettext("...")`, `ngettext(...)`, `interpolate(...)` from Django's JavaScriptCatalog) into the two domains
`django` and `djangojs`. `merge()` adds what is new to locale/zh_Hans, `missing()` lists what has no Chinese yet,
and `unwrapped_template_text()` finds English left outside the translate tags. Used by `manage.py update_catalogs`
and by tests/pages/test_translations_complete.py.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.template.base import Lexer, TokenType
from django.utils.translation.template import templatize

CATALOG_LANGUAGE = "zh_Hans"
# Python whose text people read: the pages, their template tags, models' choices, notifications, preferences.
PYTHON_SOURCES = (
    "dashboard",
    "upgrades/models",
    "upgrades/notifications",
    "upgrades/preferences.py",
    "upgrades/services/notifications.py",
    "upgrades/services/faults.py",
    "upgrades/planning/precheck_catalogue.py",
    "upgrades/security/login_links.py",
)
SCRIPT_SOURCES = ("static/js",)
CALLS = {
    "gettext": ("msgid",),
    "gettext_lazy": ("msgid",),
    "_": ("msgid",),
    "gettext_noop": ("msgid",),
    "pgettext": ("msgctxt", "msgid"),
    "pgettext_lazy": ("msgctxt", "msgid"),
    "ngettext": ("msgid", "msgid_plural"),
    "ngettext_lazy": ("msgid", "msgid_plural"),
    "npgettext": ("msgctxt", "msgid", "msgid_plural"),
    "npgettext_lazy": ("msgctxt", "msgid", "msgid_plural"),
}


@dataclass
class Message:
    msgid: str
    msgctxt: str | None = None
    msgid_plural: str = ""
    places: list[str] = field(default_factory=list)

    @property
    def key(self):
        return (self.msgctxt, self.msgid)


def base_dir() -> Path:
    return Path(settings.BASE_DIR)


def _relative(path: Path) -> str:
    return str(path.relative_to(base_dir()))


def _add(found: dict, message: Message, place: str) -> None:
    if not message.msgid:
        return
    known = found.setdefault(message.key, message)
    if place not in known.places:
        known.places.append(place)


def _message(name: str, args: list[str]) -> Message | None:
    roles = CALLS[name]
    if len(args) < len(roles):
        return None
    values = dict(zip(roles, args, strict=False))
    return Message(values["msgid"], values.get("msgctxt"), values.get("msgid_plural", ""))


def template_files() -> list[Path]:
    return sorted((base_dir() / "templates").rglob("*.html"))


def _template_messages(found: dict) -> None:
    for path in template_files():
        source = path.read_text(encoding="utf-8")
        # templatize keeps line breaks, so a call's line is its line in the template; it writes each msgid as a
        # Python literal (repr), which the literal reader below reads as it reads the scripts' strings.
        text = templatize(source, origin=str(path))
        for match in _TEMPLATE_CALL.finditer(text):
            message = _message(match.group(1), _literal_arguments(text, match.end()))
            if message is not None:
                _add(found, message, f"{_relative(path)}:{text.count(chr(10), 0, match.start()) + 1}")


def python_files() -> list[Path]:
    files: list[Path] = []
    for source in PYTHON_SOURCES:
        path = base_dir() / source
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return [f for f in files if "migrations" not in f.parts and "tests" not in f.parts]


def _python_messages(found: dict) -> None:
    for path in python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name not in CALLS:
                continue
            args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if len(args) != len([a for a in node.args[: len(CALLS[name])]]):
                continue  # a variable, not literal text (the API's errCode catalogue)
            message = _message(name, args)
            if message is not None:
                _add(found, message, f"{_relative(path)}:{node.lineno}")


_JS_CALL = re.compile(r"\b(gettext|ngettext|pgettext)\(")
_TEMPLATE_CALL = re.compile(r"\b(gettext|ngettext|pgettext|npgettext)\(")
# A string literal of JS or Python (templatize writes u'...'): one line, no template parts.
_JS_LITERAL = re.compile(r"""\s*u?("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')""")
_JS_PLUS = re.compile(r"\s*\+")
_JS_COMMA = re.compile(r"\s*,")


def _js_literal(text: str) -> str:
    return ast.literal_eval(text)  # a JS string without template parts reads the same in Python


def _literal_arguments(source: str, at: int) -> list[str]:
    """The literal arguments of a call whose "(" ends at `at`: each one string or "a" + "b" pieces."""
    args: list[str] = []
    while True:
        match = _JS_LITERAL.match(source, at)
        if match is None:
            return args
        text = _js_literal(match.group(1))
        at = match.end()
        while (plus := _JS_PLUS.match(source, at)) and (more := _JS_LITERAL.match(source, plus.end())):
            text += _js_literal(more.group(1))
            at = more.end()
        args.append(text)
        comma = _JS_COMMA.match(source, at)
        if comma is None:
            return args
        at = comma.end()


def script_files() -> list[Path]:
    return [f for source in SCRIPT_SOURCES for f in sorted((base_dir() / source).rglob("*.js"))]


def _script_messages(found: dict) -> None:
    for path in script_files():
        source = path.read_text(encoding="utf-8")
        for match in _JS_CALL.finditer(source):
            line = source.count("\n", 0, match.start()) + 1
            message = _message(match.group(1), _literal_arguments(source, match.end()))
            if message is not None:
                _add(found, message, f"{_relative(path)}:{line}")


def messages(domain: str) -> dict:
    """{(msgctxt, msgid): Message} of one domain: `django` (templates, Python) or `djangojs` (scripts)."""
    found: dict = {}
    if domain == "djangojs":
        _script_messages(found)
    else:
        _template_messages(found)
        _python_messages(found)
    return found


def po_path(domain: str) -> Path:
    return base_dir() / "locale" / CATALOG_LANGUAGE / "LC_MESSAGES" / f"{domain}.po"


HEADER = {
    "Project-Id-Version": "ob-upgrade-dashboard",
    "Language": CATALOG_LANGUAGE,
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=UTF-8",
    "Content-Transfer-Encoding": "8bit",
    "Plural-Forms": "nplurals=1; plural=0;",
}


def load(domain: str):
    import polib

    path = po_path(domain)
    if path.exists():
        return polib.pofile(str(path), wrapwidth=0)
    catalog = polib.POFile(wrapwidth=0)
    catalog.metadata = dict(HEADER)
    return catalog


def _translated(entry) -> bool:
    if entry.msgid_plural:
        return bool(entry.msgstr_plural) and all(entry.msgstr_plural.values())
    return bool(entry.msgstr)


def missing(domain: str, catalog=None) -> list[Message]:
    """The messages of `domain` without a Chinese translation, in source order."""
    catalog = catalog if catalog is not None else load(domain)
    entries = {(e.msgctxt, e.msgid): e for e in catalog if not e.obsolete}
    return [m for m in messages(domain).values() if m.key not in entries or not _translated(entries[m.key])]


def merge(domain: str):
    """The catalog with an empty entry for every new message and each entry's source places refreshed. Entries no
    source uses any more are dropped when untranslated, else kept without places (the API's errCode entries, read
    by upgrades/api/i18n.py, never had any)."""
    import polib

    catalog = load(domain)
    found = messages(domain)
    entries = {(e.msgctxt, e.msgid): e for e in catalog}
    for key, message in found.items():
        entry = entries.get(key)
        if entry is None:
            entry = polib.POEntry(msgctxt=message.msgctxt, msgid=message.msgid, msgstr="")
            if message.msgid_plural:
                entry.msgid_plural = message.msgid_plural
                entry.msgstr_plural = {0: ""}
            catalog.append(entry)
        entry.occurrences = [tuple(place.rsplit(":", 1)) for place in message.places]
        if "%" in message.msgid and "python-format" not in entry.flags and domain == "django":
            entry.flags.append("python-format")
    for key, entry in entries.items():
        if key in found:
            continue
        if not _translated(entry):
            catalog.remove(entry)  # text no source uses any more, never translated: nothing is lost
        elif entry.occurrences:
            entry.occurrences = []
    return catalog


# ---- English left outside the translate tags ----

# Words that read the same in both languages: product and protocol names, units, identifiers.
UNTRANSLATED_WORDS = {
    "OB",
    "OceanBase",
    "obshell",
    "SQL",
    "CSV",
    "API",
    "DAG",
    "ID",
    "HTTP",
    "HTTPS",
    "URL",
    "RPM",
    "rpm",
    "sha256",
    "md5",
    "SDK",
    "IP",
    "JSON",
    "PDF",
    "SVG",
    "ETA",
    "p50",
    "p90",
    "p95",
    "Upgrade",
    "Dashboard",
    "English",
    "root@sys",
    "DingTalk",
    "Feishu",
    "Lark",
    "Slack",
    "HMAC-SHA256",
    "ms",
    "s",
    "KB",
    "MB",
    "GB",
    "x86_64",
    "aarch64",
    "el7",
    "el8",
    "rootserver",
    "observer",
    "POST",
    "ci-pipeline",
}
# Whole texts that are input examples people type as they are, so they stay English on a Chinese page: label
# keys and values are lowercase identifiers, and the maintenance window parser reads English day names.
LITERAL_EXAMPLES = {
    "env",
    "prod",
    "Tue and Thu 01:00-05:00 Asia/Shanghai",
}
_ATTRIBUTES = re.compile(r"""\b(?:title|aria-label|placeholder|alt|data-confirm)\s*=\s*"([^"]*)\"""")
_TAG = re.compile(r"<[^>]*>")
_SKIP_ELEMENTS = re.compile(r"<(script|style|code|kbd|pre)\b[^>]*>.*?</\1>", re.DOTALL | re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_'’-]+")
_ENTITY = re.compile(r"&[a-z]+;|&#\d+;")


def _visible_text(template: str) -> list[tuple[int, str]]:
    """(line, text) of the template's literal text people read: element text and the attributes above, with every
    template tag and variable (translated or not) taken out, and code samples kept as they are."""
    pieces: list[str] = []
    skip_depth = 0
    for token in Lexer(template).tokenize():
        if token.token_type == TokenType.BLOCK:
            command = token.contents.split(maxsplit=1)[0] if token.contents else ""
            if command in ("blocktranslate", "blocktrans", "comment"):
                skip_depth += 1
            elif command in ("endblocktranslate", "endblocktrans", "endcomment"):
                skip_depth -= 1
            pieces.append("\x00")
        elif token.token_type == TokenType.TEXT and not skip_depth:
            pieces.append(token.contents)
        elif token.token_type == TokenType.TEXT:
            pieces.append("\x00" + "\n" * token.contents.count("\n"))
        else:
            pieces.append("\x00")
    text = "".join(pieces)
    text = _SKIP_ELEMENTS.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    found: list[tuple[int, str]] = []
    for match in _ATTRIBUTES.finditer(text):
        found.append((text.count("\n", 0, match.start()) + 1, match.group(1)))
    stripped = _TAG.sub(lambda m: "\x00" + "\n" * m.group(0).count("\n"), text)
    for number, line in enumerate(stripped.split("\n"), start=1):
        for chunk in line.split("\x00"):
            found.append((number, chunk))
    return found


def _english(text: str) -> list[str]:
    text = _ENTITY.sub(" ", text)
    return [w for w in _WORD.findall(text) if w not in UNTRANSLATED_WORDS]


def unwrapped_template_text() -> list[str]:
    """`path:line: text` for each piece of English in a template outside {% translate %} / {% blocktranslate %}."""
    problems = []
    for path in template_files():
        for line, text in _visible_text(path.read_text(encoding="utf-8")):
            if text.strip() not in LITERAL_EXAMPLES and _english(text):
                problems.append(f"{_relative(path)}:{line}: {' '.join(text.replace(chr(0), ' … ').split())[:100]}")
    return problems


def unwrapped_python_text() -> list[str]:
    """`path:line: text` for literal English the pages show without gettext: form labels and help texts, choices
    and flash messages (messages.success(request, "...")) in dashboard/."""
    problems = []
    for path in sorted((base_dir() / "dashboard").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            literal: list[ast.expr] = []
            literal += [k.value for k in node.keywords if k.arg in ("label", "help_text", "empty_label")]
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "messages":
                literal += node.args[1:2]
            for value in literal:
                if isinstance(value, ast.JoinedStr) or (
                    isinstance(value, ast.Constant) and isinstance(value.value, str) and _english(value.value)
                ):
                    problems.append(f"{_relative(path)}:{node.lineno}: {ast.unparse(value)[:100]}")
    return problems
