"""docs/configuration.md and the allow-list in docs/security.md are generated from the code
(``python -m pipeline.config_docs --write``); these tests fail when a committed page is stale."""

import ast
import importlib.util
import re
import sys
from pathlib import Path

import pytest

from pipeline import config as config_module
from pipeline.config import load_config
from pipeline.config_docs import BEGIN, END, configuration_markdown, main, replace_block, sanitizer_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs"
REGENERATE = "docs are out of date: run `python -m pipeline.config_docs --write` and commit the result"


def documented_keys(page: str) -> set[str]:
    """Dotted keys of every table row, e.g. "tool.pipeline.model.id"."""
    keys, table = set(), None
    for line in page.splitlines():
        heading = re.fullmatch(r"## `\[\[?([\w.]+)\]\]?`", line)
        if heading:
            table = heading.group(1)
        row = re.match(r"\| `(\w+)` \|", line)
        if row and table:
            keys.add(f"{table}.{row.group(1)}")
    return keys


def flat_keys(values: dict, prefix: str = "tool.pipeline") -> set[str]:
    """`python -m pipeline config`'s keys, nested tables as dotted keys (not `parameters`' contents)."""
    keys = set()
    for key, value in values.items():
        if isinstance(value, dict) and key != "parameters":  # a table: a section of its own
            keys |= flat_keys(value, f"{prefix}.{key}")
        else:
            keys.add(f"{prefix}.{key}")
    return keys


def test_configuration_page_is_up_to_date():
    assert (DOCS / "configuration.md").read_text(encoding="utf-8") == configuration_markdown(), REGENERATE


def test_every_key_config_prints_is_documented(tmp_path, monkeypatch):
    monkeypatch.delenv("JUPYTER_GATEWAY_URL", raising=False)
    printed = flat_keys(load_config(tmp_path).describe())
    documented = documented_keys((DOCS / "configuration.md").read_text(encoding="utf-8"))
    assert "tool.pipeline.model.id" in printed and "tool.pipeline.root" in printed
    assert printed - documented == set()


def test_every_field_has_a_comment():
    """A new setting is documented where it is declared: a ``#:`` comment above the field."""
    page = configuration_markdown()
    assert not [line for line in page.splitlines() if re.match(r"\| `\w+` \|.*\|  \|$", line)]


def test_a_new_field_changes_the_page(tmp_path, monkeypatch):
    """The up-to-date check can fail: a field added to a copy of pipeline/config.py shows up."""
    source = Path(config_module.__file__).read_text(encoding="utf-8")
    preview = next(node for node in ast.parse(source).body
                   if isinstance(node, ast.ClassDef) and node.name == "PreviewConfig")
    lines = source.splitlines(keepends=True)
    lines.insert(preview.end_lineno, "    #: a new knob nobody documented by hand\n    new_knob: int = 3\n")
    copy = tmp_path / "config_copy.py"
    copy.write_text("".join(lines), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("config_copy", copy)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "config_copy", module)
    spec.loader.exec_module(module)

    page = configuration_markdown(module)
    assert page != configuration_markdown()
    assert "tool.pipeline.preview.new_knob" in documented_keys(page)
    assert "| `new_knob` | integer | `3` | a new knob nobody documented by hand |" in page


def test_security_page_shows_the_sanitizers_allow_list():
    page = (DOCS / "security.md").read_text(encoding="utf-8")
    assert replace_block(page, sanitizer_markdown()) == page, REGENERATE


def test_the_allow_list_is_a_subset_of_qiitas():
    from pipeline.markdown.dialects import QIITA_TAGS
    from pipeline.markdown.sanitize import ALLOWED_TAGS

    assert ALLOWED_TAGS <= QIITA_TAGS  # what docs/security.md says


def test_check_and_write(tmp_path, monkeypatch, capsys):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "configuration.md").write_text("stale\n", encoding="utf-8")
    (tmp_path / "docs" / "security.md").write_text(f"# Security\n\n{BEGIN}\nold\n{END}\n\nafter\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(["--write"]) == 0
    assert main(["--check"]) == 0
    security = (tmp_path / "docs" / "security.md").read_text(encoding="utf-8")
    assert "old" not in security and security.endswith(f"{END}\n\nafter\n") and "`ALLOWED_TAGS`" in security
    with pytest.raises(ValueError, match="no generated block"):
        replace_block("no markers", "x")
