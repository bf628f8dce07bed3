"""Error messages in the caller's language (spec 1.1): obshell localizes an error's `message` from its catalog
when the request carries `Accept-Language`, English by default.

* The language comes from the `Accept-Language` header only (never a cookie or the session), and only for the API:
  the middleware (upgrades/api/middleware.py) activates it around an /api/ request as Django's LocaleMiddleware
  would; the pages keep LANGUAGE_CODE. Deviation: obshell parses the header as one tag (`language.Parse`, so a
  browser's list such as `zh-CN,zh;q=0.9` leaves it English); here it is read as the list it is, by q-value,
  as Django does, and a single tag behaves as in obshell. Any `zh*` answers in Simplified Chinese (the only
  catalog, as obshell's matcher falls back to `zh`), `en*` and everything else in English.
* An error keeps its English text in code; its code's templates (upgrades/api/error_templates.py) find the
  arguments and the catalog (locale/zh_Hans, Django's gettext with the errCode as context) gives the Chinese
  template. Arguments that are themselves messages of the same code are translated too (obshell's wrapped
  errors localize their inner error); other arguments (names, addresses, Go's error texts) stay as they are,
  as in obshell.
* obshell renders a plain Go error (500 Common.Unexpected, 400 MySQL.Error) with its raw text unless the request
  carries Accept-Language, and then through the code's template (`Unexpected error: %s`, `MySQL error: %s`):
  the same here, in English or Chinese.
"""

import functools
import re

from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

from upgrades.api.error_templates import TEMPLATES

CHINESE = "zh-hans"
ENGLISH = "en"
# Codes whose plain (unwrapped) errors obshell renders through a template when a language is asked for.
PLAIN_ERROR_TEMPLATES = {"Common.Unexpected": "Unexpected error: %s", "MySQL.Error": "MySQL error: %s"}
MAX_DEPTH = 4


def api_language(meta):
    """The language an API answer's errors are rendered in: None without a usable Accept-Language header."""
    header = meta.get("HTTP_ACCEPT_LANGUAGE", "")
    if not isinstance(header, str) or not header.strip() or len(header) > 255:
        return None
    choices = parse_accept_lang_header(header.lower())
    if not choices:
        return None
    for code, _quality in choices:
        if code.startswith("zh"):
            return CHINESE
        if code.startswith("en") or code == "*":
            return ENGLISH
    return ENGLISH


@functools.lru_cache(maxsize=512)
def _pattern(template):
    parts = template.split("%s")
    # Every argument but the last matches as little as it can, the last as much: a wrapped message's own text
    # (the last argument) may contain anything.
    body = "(.*?)".join(re.escape(part) for part in parts[:-1])
    if len(parts) > 1:
        body += "(.*)" + re.escape(parts[-1])
    else:
        body = re.escape(template)
    return re.compile(body, re.DOTALL)


def _fill(template, args):
    pieces = template.split("%s")
    out = [pieces[0]]
    for arg, piece in zip(args, pieces[1:], strict=False):
        out.extend((arg, piece))
    return "".join(out)


def _translated(err_code, template):
    return translation.pgettext(err_code, template)


def _localize(err_code, message, depth):
    for template in TEMPLATES.get(err_code, ()):
        match = _pattern(template).fullmatch(message)
        if match is None:
            continue
        args = list(match.groups())
        if depth < MAX_DEPTH:
            args = [_localize(err_code, arg, depth + 1) or arg for arg in args]
        return _fill(_translated(err_code, template), args)
    return None


def localize(err_code, message, language):
    """`message` of an error with `err_code` in `language` (None: as it is, obshell's default)."""
    if language is None or not isinstance(message, str):
        return message
    with translation.override(language):
        localized = _localize(err_code, message, 0)
        if localized is not None:
            return localized
        plain = PLAIN_ERROR_TEMPLATES.get(err_code)
        if plain is not None:
            return _fill(_translated(err_code, plain), [message])
    return message
