"""Campaign and settings files are read defensively: duplicate keys name both lines, aliases and nesting
are bounded, and a bad file is a one-line error naming file and line, never the validator's wording."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from edm.cli import main
from edm.errors import CampaignError
from edm.yamlfile import MAX_DEPTH, load_yaml

KEYS = st.text(string.ascii_lowercase + "_", min_size=1, max_size=12).map(lambda k: f"k_{k}")


@settings(derandomize=True, max_examples=60, deadline=None)
@given(keys=st.lists(KEYS, min_size=1, max_size=8, unique=True), repeat=st.data(), depth=st.integers(0, 3))
def test_a_repeated_key_at_any_depth_names_both_lines(
    tmp_path_factory: pytest.TempPathFactory, keys: list[str], repeat: st.DataObject, depth: int
) -> None:
    first = repeat.draw(st.integers(0, len(keys) - 1))
    lines = [f"{k}: {n}" for n, k in enumerate(keys)] + [f"{keys[first]}: again"]
    indent = "  " * depth
    text = "".join(f"{'  ' * d}level{d}:\n" for d in range(depth))
    text += "".join(f"{indent}{line}\n" for line in lines)
    path = tmp_path_factory.mktemp("dup") / "file.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CampaignError) as caught:
        load_yaml(path, CampaignError)
    column = 2 * depth + 1
    expected = f"{path}:{depth + len(keys) + 1}:{column}: duplicate key {keys[first]!r} " \
               f"(first at line {depth + first + 1})"
    assert str(caught.value).startswith(expected)


@settings(derandomize=True, max_examples=40, deadline=None)
@given(keys=st.lists(KEYS, min_size=1, max_size=8, unique=True))
def test_distinct_keys_load_as_written(tmp_path_factory: pytest.TempPathFactory, keys: list[str]) -> None:
    path = tmp_path_factory.mktemp("ok") / "file.yaml"
    path.write_text("".join(f"{k}: {n}\n" for n, k in enumerate(keys)), encoding="utf-8")
    assert load_yaml(path, CampaignError)[0] == {k: n for n, k in enumerate(keys)}


def test_small_aliases_and_merge_keys_still_work(tmp_path: Path) -> None:
    path = tmp_path / "file.yaml"
    path.write_text("base: &base {a: 1, b: 2}\nother:\n  <<: *base\n  b: 3\nlist: [*base, *base]\n",
                    encoding="utf-8")
    data, _ = load_yaml(path, CampaignError)
    assert data["other"] == {"a": 1, "b": 3} and data["list"] == [{"a": 1, "b": 2}] * 2


@pytest.mark.parametrize(("text", "expected"), [
    ("a: &a [*a]\n", ":1:4: an alias refers to the value that contains it"),
    ("x: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n", f":1:{MAX_DEPTH + 3}: nested more than"),
    ("a: *nowhere\n", ":1:4: invalid YAML: found undefined alias 'nowhere'"),
    ("on: 1\nyes: 2\n", ":2:1: duplicate key 'yes' (first at line 1)"),  # both read as true
    ("1: a\n0x1: b\n", ":2:1: duplicate key '0x1' (first at line 1)"),
])
def test_self_reference_deep_nesting_and_unknown_aliases_are_refused(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "file.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CampaignError) as caught:
        load_yaml(path, CampaignError)
    assert str(caught.value).startswith(f"{path}{expected}")


def test_a_settings_file_with_a_duplicate_key_is_refused_with_both_lines(tmp_path: Path) -> None:
    config = tmp_path / "edm.yaml"
    config.write_text("database_url: sqlite:///a.db\nmail_dir: mail\ndatabase_url: sqlite:///b.db\n",
                      encoding="utf-8")
    result = CliRunner().invoke(main, ["campaign", "due", "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 1
    assert f"{config}:3:1: duplicate key 'database_url' (first at line 1)" in result.output
    assert "Traceback" not in result.output
