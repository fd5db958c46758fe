"""Render marketers' templates into personalised mail, safely.

Templates are written by marketers, not programmers, and they see customer data, so
they run in Jinja's immutable sandbox: no Python internals, no mutating the context
that is reused for the next customer. Every problem a template can cause (a typo'd
variable, a syntax error, a sandbox violation, a missing file) surfaces as a
`TemplateError` that names the template, the language and the line to fix, so that
`edm campaign preview` catches it before a single mail is queued.

Layout on disk: `<templates_dir>/<template>/<lang>.html.j2` and, optionally,
`<lang>.txt.j2`, with shared layouts (`base.html.j2`, `base.txt.j2`) at the top. HTML is
autoescaped, the plain-text part is not (it is not HTML, and escaping would show `&amp;`
to readers). A language without a hand-written text part gets one derived from its HTML
(inscriptis), links kept. A `<style>` block in the HTML is inlined onto the elements
(css-inline), since mail clients ignore style sheets; HTML without one is left as it is.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Collection, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import css_inline
import jinja2
from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.html_properties import Display
from inscriptis.model.config import ParserConfig
from inscriptis.model.html_element import HtmlElement
from jinja2.sandbox import ImmutableSandboxedEnvironment

from edm.dates import FILTERS as DATE_FILTERS
from edm.errors import EdmError, TemplateError
from edm.resources import templates_dir as default_templates_dir
from edm.wording import FILTERS as WORDING_FILTERS

FALLBACK_LANGUAGE = "en"
HTML_SUFFIX = ".html.j2"
TEXT_SUFFIX = ".txt.j2"
_TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_LOCALE_SUFFIX = re.compile(r"[.@]")  # zh_CN.UTF-8, sr_RS@latin
_TRADITIONAL_REGIONS = frozenset({"hk", "tw", "mo"})
_SUBJECT_CACHE_SIZE = 256
_BLANK_RUNS = re.compile(r"\n{3,}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc, exactly
_STYLE_TAG = re.compile(r"<style", re.IGNORECASE)
# Mail layouts nest tables for positioning, not for tabular data: read them as blocks.
_TEXT_CSS = {
    **CSS_PROFILES["strict"],
    **{tag: HtmlElement(display=Display.block) for tag in ("table", "tbody", "thead", "tfoot", "tr", "td")},
}
_TEXT_CONFIG = ParserConfig(css=_TEXT_CSS, display_links=True, display_images=False)
# Remote style sheets are never fetched: a template must not make the sender call out.
_CSS_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False)
_RELOAD_CHECK_SECONDS = 1.0  # how often changed template files are looked for
_DICT_ATTRIBUTES = frozenset(dir(dict))
_VIEW_FIELDS: dict[type, frozenset[str]] = {}  # template views and the fields templates may read
_View = TypeVar("_View", bound=type)


def template_view(cls: _View) -> _View:
    """Mark a frozen dataclass as plain data for templates: its public fields are read without
    the sandbox's general attribute checks, a fifth of the rendering time. Everything else on
    it (methods, `__class__`, `_private`) still goes through those checks, and is refused."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        raise TypeError(f"{cls.__name__} must be a frozen dataclass to be a template view")
    _VIEW_FIELDS[cls] = frozenset(f.name for f in dataclasses.fields(cls) if not f.name.startswith("_"))
    return cls


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with a fast path for what templates read most: the fields of
    template views and the keys of plain dicts (which give the same answer as the general path)."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        kind = type(obj)
        fields = _VIEW_FIELDS.get(kind)
        if fields is not None and attribute in fields:
            return getattr(obj, attribute)
        if kind is dict and attribute not in _DICT_ATTRIBUTES:  # the general path would look up the key
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """A plain dict, not Jinja's ChainMap over the environment's globals (never changed here):
        each render, layout and import iterates it, and a ChainMap iterates in Python."""
        return {**self.globals, **(d or {})}


class RenderError(TemplateError):
    """A template file or subject failed to load or render: `where` is the file and line to fix
    (e.g. "greeting/en.html.j2 line 3"; "<string> line 1" for a subject), `problem` what is wrong."""

    def __init__(self, label: str, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{label}: {where}: {problem}")


@dataclass(frozen=True, slots=True)
class RenderedBody:
    """Both parts of one message, and the language that was actually used."""

    html: str
    text: str
    language: str


def language_chain(locale: str) -> list[str]:
    """The languages to try for a customer's `locale`, best first, lower-case, ending in `en`.

    The exact tag (`_` read as `-`, any `.UTF-8` or `@...` suffix dropped), then for Chinese
    the script: Traditional for `zh-Hant` and for Hong Kong, Taiwan and Macau (`zh-HK` ->
    `zh-hant` -> `zh-hans` -> `zh` -> `en`), Simplified otherwise (`zh-CN` -> `zh-hans` ->
    `zh` -> `en`); for other languages the primary subtag (`fr-CA` -> `fr` -> `en`). A bare
    `zh` is read as Simplified, the script of most of its readers.
    """
    tag = _LOCALE_SUFFIX.split(locale.strip().lower(), maxsplit=1)[0].replace("_", "-")
    parts = [part for part in tag.split("-") if part]
    chain = ["-".join(parts)] if parts else []
    primary = parts[0] if parts else FALLBACK_LANGUAGE
    if primary == "zh":
        subtags = set(parts[1:])
        traditional = "hant" in subtags or (bool(subtags & _TRADITIONAL_REGIONS) and "hans" not in subtags)
        chain += ["zh-hant", "zh-hans", "zh"] if traditional else ["zh-hans", "zh"]
    else:
        chain.append(primary)
    chain.append(FALLBACK_LANGUAGE)
    return list(dict.fromkeys(chain))


def resolve_language(locale: str, available: Collection[str]) -> str:
    """The best of `available` for a customer's `locale` (`language_chain`), else English.

    A customer record with an odd or empty locale still gets mail, in English.
    """
    by_lower = {name.lower(): name for name in available}
    for candidate in language_chain(locale):
        if candidate in by_lower:
            return by_lower[candidate]
    return FALLBACK_LANGUAGE


def templates_available(templates_dir: Path | None = None) -> list[str]:
    """Names of the templates that can be used: those with at least an English html file."""
    root = default_templates_dir() if templates_dir is None else templates_dir
    if not root.is_dir():
        return []
    return sorted(
        entry.name
        for entry in root.iterdir()
        if _TEMPLATE_NAME.match(entry.name) and FALLBACK_LANGUAGE in _languages_in(entry)
    )


def check_template(template: str, templates_dir: Path | None = None) -> None:
    """Raise `TemplateError` unless `template` has the English html every locale falls back to."""
    root = default_templates_dir() if templates_dir is None else templates_dir
    _check_name(template)
    if FALLBACK_LANGUAGE in _languages_in(root / template):
        return
    known = ", ".join(templates_available(root)) or "none"
    raise TemplateError(
        f"no template {template!r} in {root}: it needs {template}/{FALLBACK_LANGUAGE}{HTML_SUFFIX} "
        f"(and optionally {template}/{FALLBACK_LANGUAGE}{TEXT_SUFFIX}; available: {known})"
    )


def template_languages(template: str, templates_dir: Path | None = None) -> list[str]:
    """The languages `template` ships in: those with an html file."""
    root = default_templates_dir() if templates_dir is None else templates_dir
    _check_name(template)
    return sorted(_languages_in(root / template))


class ByLanguage:
    """A context value that depends on the message's language (e.g. the sender's brand): `render`
    gives the template `value.in_language(language)` for the language it picked."""

    __slots__ = ()

    def in_language(self, language: str) -> Any:
        raise NotImplementedError


class Renderer:
    """A sandboxed Jinja environment over one templates folder; cheap to keep, safe to share."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        self.templates_dir = default_templates_dir() if templates_dir is None else templates_dir
        self._env = _Sandbox(
            loader=jinja2.FileSystemLoader(self.templates_dir, encoding="utf-8"),
            auto_reload=False,  # `_reload_changed` looks once a second, not at every file of every message
            cache_size=-1,  # a plain dict: a folder has a few dozen templates, and a lookup takes no lock
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html.j2", "html"),
                disabled_extensions=("txt.j2", "txt"),
                default_for_string=False,
                default=False,
            ),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters.update(DATE_FILTERS)  # add_days, long_date: dates that are right every year
        self._env.filters.update(WORDING_FILTERS)  # sentence_end: "Acme Ltd." ends a sentence once
        self._subjects: dict[str, jinja2.Template] = {}
        self._subjects_lock = threading.Lock()
        self._folders: dict[str, tuple[int, frozenset[str], frozenset[str]]] = {}
        self._reload_checked = time.monotonic()
        self._folders_seen: set[str] = set()  # folders looked at since the last check

    def templates_available(self) -> list[str]:
        return templates_available(self.templates_dir)

    def check_template(self, template: str) -> None:
        check_template(template, self.templates_dir)

    def render(self, template: str, locale: str, context: Mapping[str, Any]) -> RenderedBody:
        """The html and text parts of `template` in the best language for `locale`.

        The text part is the language's `.txt.j2` when there is one, else derived from the html.
        """
        self._reload_changed()
        html_languages, text_languages = self._languages(template)
        if FALLBACK_LANGUAGE not in html_languages:
            self.check_template(template)  # raises, saying what is missing
        language = resolve_language(locale, html_languages)
        values = {key: value.in_language(language) if isinstance(value, ByLanguage) else value
                  for key, value in context.items()}
        html = self._render_file(template, language, HTML_SUFFIX, values)
        if language in text_languages:
            text = self._render_file(template, language, TEXT_SUFFIX, values)
        else:
            text = _derive_text(html, f"template {template!r} ({language}, html)")
        html = _inline_css(html, f"template {template!r} ({language}, html)")
        return RenderedBody(html=html, text=_tidy_text(text), language=language)

    def _reload_changed(self) -> None:
        """Forget the compiled templates when one of their files changed (checked once a second)."""
        now = time.monotonic()
        if now - self._reload_checked < _RELOAD_CHECK_SECONDS:
            return
        self._reload_checked = now
        self._folders_seen.clear()
        cache = self._env.cache
        if cache is not None and not all(t.is_up_to_date for t in list(cache.values())):
            cache.clear()

    def _languages(self, template: str) -> tuple[frozenset[str], frozenset[str]]:
        """The languages with an html file and those with a text file, looked up once per change
        of the folder (listing it for every message costs more than rendering a paragraph), and
        the folder is looked at once a second at most."""
        _check_name(template)
        cached = self._folders.get(template)
        if cached is not None and template in self._folders_seen:
            return cached[1], cached[2]
        folder = self.templates_dir / template
        try:
            stamp = folder.stat().st_mtime_ns
        except OSError:
            return frozenset(), frozenset()
        self._folders_seen.add(template)
        if cached is None or cached[0] != stamp:
            text = {p.name.removesuffix(TEXT_SUFFIX) for p in folder.glob(f"*{TEXT_SUFFIX}") if p.is_file()}
            cached = self._folders[template] = (stamp, frozenset(_languages_in(folder)), frozenset(text))
        return cached[1], cached[2]

    def render_subject(
        self, source: str, context: Mapping[str, Any], *, name: str = "subject"
    ) -> str:
        """A subject line from a campaign's template string, as one safe header line.

        All whitespace and control characters (CR/LF included) become single spaces,
        so no customer name can inject a header. `name` labels errors (e.g. "win_back
        subject (zh)").
        """
        try:
            rendered = self._compiled_subject(source).render(dict(context))
        except Exception as exc:
            raise RenderError(name, *_describe(exc, self.templates_dir)) from exc
        return one_line(rendered)

    def _compiled_subject(self, source: str) -> jinja2.Template:
        """Compiling is far slower than rendering, and a campaign has only a few subjects."""
        with self._subjects_lock:
            compiled = self._subjects.get(source)
            if compiled is None:
                compiled = self._env.from_string(source)
                if len(self._subjects) >= _SUBJECT_CACHE_SIZE:
                    self._subjects.pop(next(iter(self._subjects)))
                self._subjects[source] = compiled
            return compiled

    def _render_file(
        self, template: str, language: str, suffix: str, values: dict[str, Any]
    ) -> str:
        path = f"{template}/{language}{suffix}"
        try:
            return self._env.get_template(path).render(values)
        except Exception as exc:
            # Any exception is the template's doing (bad filter input, a link name the
            # campaign does not define...): report it as the marketer's error to fix.
            part = suffix.removeprefix(".").removesuffix(".j2")
            where, problem = _describe(exc, self.templates_dir, path)
            raise RenderError(f"template {template!r} ({language}, {part})", where, problem) from exc


def _check_name(template: str) -> None:
    if not _TEMPLATE_NAME.match(template):
        raise TemplateError(
            f"invalid template name {template!r}: use letters, digits, '_' and '-' "
            "(the name of a folder in the templates directory)"
        )


def _languages_in(folder: Path) -> set[str]:
    """Languages with an html file; their text part is optional (derived when absent)."""
    if not folder.is_dir():
        return set()
    return {p.name.removesuffix(HTML_SUFFIX) for p in folder.glob(f"*{HTML_SUFFIX}") if p.is_file()}


def _derive_text(html: str, name: str) -> str:
    """The plain-text part read off the html: paragraphs kept, links as `[label](url)`."""
    try:
        text: str = get_text(html, _TEXT_CONFIG)
    except Exception as exc:  # lxml's or inscriptis' own: the html is what to fix
        raise TemplateError(f"{name}: cannot derive the text part: {type(exc).__name__}: {exc}") from exc
    # Centred layout cells leave runs of padding on either side of each line.
    return "\n".join(line.strip() for line in text.splitlines())


def _inline_css(html: str, name: str) -> str:
    """`<style>` rules moved onto the elements; html without a `<style>` is returned untouched
    (parsing it costs ~50 µs a message for nothing)."""
    if not _STYLE_TAG.search(html):
        return html
    try:
        return _CSS_INLINER.inline(html)
    except css_inline.InlineError as exc:
        raise TemplateError(f"{name}: cannot inline its CSS: {exc}") from exc


def _tidy_text(text: str) -> str:
    """No trailing spaces, at most one blank line in a row: template tags leave both behind."""
    lines = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return _BLANK_RUNS.sub("\n\n", lines) + "\n"


def one_line(rendered: str) -> str:
    """Control characters (CR and LF among them) and whitespace runs become one space:
    the value can never start a new header."""
    return " ".join(_CONTROL.sub(" ", rendered).split())


_HINTS: list[tuple[type[BaseException], str]] = [
    (jinja2.exceptions.SecurityError, "templates may not touch Python internals"),
    (jinja2.UndefinedError, "check the spelling, or the campaign's params and links"),
]


def _describe(exc: BaseException, templates_dir: Path, own: str | None = None) -> tuple[str, str]:
    """('<file> line <n>', '<problem> (<hint>)') for any error raised while loading or rendering.

    `own` is the file that was asked for: when the error surfaces in a layout or macro,
    the line in `own` that led there is named too, since that is usually what to fix.
    """
    if isinstance(exc, jinja2.TemplateSyntaxError):
        where = _where(exc.filename or exc.name, exc.lineno, templates_dir)
        return where, f"syntax error: {exc.message}"
    where = _error_location(_template_frames(exc.__traceback__), own, templates_dir)
    if isinstance(exc, jinja2.TemplateNotFound):
        message = f"template file {exc.name!r} not found in {templates_dir}"
    elif isinstance(exc, jinja2.TemplateError):
        message = exc.message or type(exc).__name__
    elif isinstance(exc, EdmError):
        message = str(exc)  # already written for the user, e.g. by the caller's link()
    else:
        message = f"{type(exc).__name__}: {exc}"
    hint = next((text for kind, text in _HINTS if isinstance(exc, kind)), None)
    return where, message + (f" ({hint})" if hint else "")


def _error_location(frames: list[tuple[str, int]], own: str | None, templates_dir: Path) -> str:
    if not frames:
        return "while rendering"
    inner = _where(*frames[-1], templates_dir)
    mine = [f for f in frames if own is not None and _relative(f[0], templates_dir) == own]
    if not mine or mine[-1] == frames[-1]:
        return inner
    return f"{_where(*mine[-1], templates_dir)} (in {inner})"


def _where(file: str | None, line: int | None, templates_dir: Path) -> str:
    shown = "<string>" if file in (None, "<template>") else _relative(file, templates_dir)
    return f"{shown} line {line}" if line else shown


def _relative(file: str, templates_dir: Path) -> str:
    try:
        return Path(file).resolve().relative_to(templates_dir.resolve()).as_posix()
    except (ValueError, OSError):
        return file


def _template_frames(tb: TracebackType | None) -> list[tuple[str, int]]:
    """Frames in template code, outermost first; Jinja rewrites them to template lines."""
    frames: list[tuple[str, int]] = []
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if (filename.endswith(".j2") or filename == "<template>") and (
            not frames or frames[-1] != (filename, tb.tb_lineno)
        ):
            frames.append((filename, tb.tb_lineno))
        tb = tb.tb_next
    return frames


__all__ = [
    "FALLBACK_LANGUAGE",
    "ByLanguage",
    "RenderError",
    "RenderedBody",
    "Renderer",
    "check_template",
    "language_chain",
    "resolve_language",
    "template_languages",
    "template_view",
    "templates_available",
]
