"""The sandbox's fast path for template views and plain dicts, and reloading changed templates."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

import edm.render
from edm.errors import TemplateError
from edm.render import Renderer, template_view


@template_view
@dataclass(frozen=True)
class View:
    name: str
    _secret: str = "hidden"

    def shout(self) -> str:
        return self.name.upper()


def _render(tmp_path: Path, source: str, **context: object) -> str:
    folder = tmp_path / "t"
    folder.mkdir(exist_ok=True)
    (folder / "en.html.j2").write_text(source, encoding="utf-8")
    (folder / "en.txt.j2").write_text("text", encoding="utf-8")
    return Renderer(tmp_path).render("t", "en", context).html


def test_a_views_fields_and_a_dicts_keys_read_as_before(tmp_path: Path) -> None:
    html = _render(tmp_path, "{{ v.name }} {{ v.shout() }} {{ p.offer }} {{ p['offer'] }}",
                   v=View("Wang"), p={"offer": "10%"})

    assert html == "Wang WANG 10% 10%"


@pytest.mark.parametrize("expression", [
    "v.__class__", "v._secret", "v.__dataclass_fields__", "v.__init__.__globals__", "v.shout.__func__",
    "p.__class__", "p.update({'offer': '90%'})", "p.clear()",
])
def test_the_fast_path_still_refuses_internals_and_mutation(tmp_path: Path, expression: str) -> None:
    params = {"offer": "10%"}

    with pytest.raises(TemplateError) as caught:
        _render(tmp_path, f"{{{{ {expression} }}}}", v=View("Wang"), p=params)

    assert "unsafe" in str(caught.value) or "not safely callable" in str(caught.value)
    assert params == {"offer": "10%"}


@pytest.mark.parametrize("expression", ["v.missing", "p.missing"])
def test_a_missing_field_or_key_is_still_a_template_error(tmp_path: Path, expression: str) -> None:
    with pytest.raises(TemplateError, match="missing"):
        _render(tmp_path, f"{{{{ {expression} }}}}", v=View("Wang"), p={"offer": "10%"})


def test_only_frozen_dataclasses_can_be_template_views() -> None:
    @dataclass
    class Mutable:
        name: str

    with pytest.raises(TypeError, match="frozen dataclass"):
        template_view(Mutable)


def test_a_changed_template_file_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edm.render, "_RELOAD_CHECK_SECONDS", 0.0)  # look at every render
    folder = tmp_path / "t"
    folder.mkdir()
    html = folder / "en.html.j2"
    html.write_text("first", encoding="utf-8")
    renderer = Renderer(tmp_path)
    assert renderer.render("t", "en", {}).html == "first"

    html.write_text("second", encoding="utf-8")
    later = html.stat().st_mtime_ns + 2_000_000_000
    os.utime(html, ns=(later, later))

    assert renderer.render("t", "en", {}).html == "second"
