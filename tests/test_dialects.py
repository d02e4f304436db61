"""pipeline.markdown.dialects and .platforms: each Qiita and Zenn rule catches its problem; clean articles pass."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pipeline.config import load_config
from pipeline.errors import ConfigError
from pipeline.markdown.dialects import check_qiita, check_zenn
from pipeline.markdown.platforms import QIITA, ZENN, is_one_emoji

CLEAN_QIITA = """\
# 実験の記録

本文は一行で書く。インライン数式 $`x_1`$ と `$x$` のコードも使える。

```python:experiments/01_first.py
print("<script>")
```

:::note info
注意書き。
:::

:::note warn
警告。
:::

```math
a^2 + b^2 = c^2
```

<details><summary>出力(全 8 行)</summary>

```text
out $$ <svg>
```

</details>

| a | b |
|:---:|---|
| <span style="background-color: #ff0">1</span> | <kbd>Ctrl</kbd> |

![図](https://example.com/figures/a.png)

- 項目 1
  - 入れ子
"""

CLEAN_ZENN = """\
# 実験の記録

本文は一行で書く。インライン数式 $x_1$ も使える。<br>改行もできる。

```python:experiments/01_first.py
print("<script>")
```

```math-not-math:notes.txt
a fence whose language is not "math"
```

:::message
注意書き。
:::

::::details 出力(全 8 行)
:::message alert
入れ子のメッセージ。
:::
::::

$$
a^2 + b^2 = c^2
$$

![図](/images/fixture-article/fig.png)
![外部](https://example.com/a.webp?x=1)
"""


def test_clean_articles_pass():
    assert check_qiita(CLEAN_QIITA) == []
    assert check_zenn(CLEAN_ZENN) == []


QIITA_PROBLEMS = [
    ("```python:a.py\nx\n", "line 1: fence ``` never closed"),
    ("````python:a.py\nx\n```\n", "line 1: fence ```` never closed"),  # a shorter run does not close
    (":::note info\nx\n", "line 1: :::note never closed"),
    (":::note danger\nx\n:::\n", "line 1: unknown note kind"),
    (":::tip\nx\n:::\n", "line 1: ':::tip' is not a Qiita note"),
    ("x\n:::\n", "line 2: ':::' closes no open note"),
    ("$$\nx\n$$\n", "line 1: '$$' math"),
    ("a $$x$$ b\n", "line 1: '$$' math"),
    ("text $x_1$ text\n", "line 1: inline math $...$ is fragile"),
    ("![a](data:image/png;base64,AAA)\n", "line 1: data: URI"),
    ('<img src="data:image/png;base64,AAA">\n', "line 1: data: URI"),
    ("first line\nsecond line\n", "line 2: paragraph continues on a new line (hard wrap)"),
    ("<script>x</script>\n", "line 1: HTML tag <script> is not kept"),
    ("<svg><path d='M0 0'/></svg>\n", "line 1: HTML tag <svg> is not kept"),
    ("<figure><img src='a.png'></figure>\n", "line 1: HTML tag <figure> is not kept"),
    ("<style>p{}</style>\n", "line 1: HTML tag <style> is not kept"),
    ("<math><mi>x</mi></math>\n", "line 1: HTML tag <math> is not kept"),
    ('<div style="color: red">x</div>\n', "line 1: style on <div> is dropped"),
]


def test_qiita_check_ignores_code():
    assert check_qiita("```text\n$$ <script> $x$ data:\n:::note\n```\n\nuse `$x$` and `<svg>` in code\n") == []


ZENN_PROBLEMS = [
    ("```python\nx\n", "line 1: fence ``` never closed"),
    (":::message\nx\n", "line 1: ':::' block never closed"),
    (":::details\nx\n:::\n", "line 1: unknown block ':::details'"),  # a details block needs a title
    (":::note info\nx\n:::\n", "line 1: unknown block ':::note info'"),
    ("x\n:::\n", "line 2: ':::' closes no open block"),
    (":::details a\n:::message\nx\n:::\n:::\n", "line 2: a block nested in the one at line 1 needs fewer colons"),
    ("<details><summary>a</summary>\n\nx\n\n</details>\n", "line 1: Zenn shows the HTML tag <details> as text"),
    ("text <sup>1</sup>\n", "line 1: Zenn shows the HTML tag <sup> as text"),
    ("```math\na^2\n```\n", "line 1: Zenn does not render ```math as math"),
    ("text\n$$\na^2\n$$\n", "line 2: a $$ block needs a blank line before and after it"),
    ("$$\na^2\n$$\ntext\n", "line 1: a $$ block needs a blank line before and after it"),
    ("$$\na^2\n", "line 1: $$ block never closed"),
    ("![a](images/fig.png)\n", "line 1: image 'images/fig.png' must be"),
    ("![a](/images/fig.svg)\n", "line 1: image '/images/fig.svg' must be"),
    ("![a](https://example.com/plot)\n", "line 1: image 'https://example.com/plot' must be"),
    ("![a](data:image/png;base64,AAA)\n", "line 1: image 'data:image/png;base64,AAA' must be"),
    ("first line\nsecond line\n", "line 2: paragraph continues on a new line (hard wrap)"),
]


@pytest.mark.parametrize("check, bad, message", [(check_qiita, *case) for case in QIITA_PROBLEMS]
                         + [(check_zenn, *case) for case in ZENN_PROBLEMS])
def test_each_dialect_check_catches_each_problem(check, bad, message):
    problems = check(bad)
    assert any(p.startswith(message) for p in problems), problems
    assert all(p.startswith("line ") for p in problems)


def test_problems_come_in_line_order():
    problems = check_qiita("a\nb\n\n<script>\n\n```python\n")
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 4", "line 6"]  # hard wrap, tag, unclosed fence


# ---------------------------------------------------------------------------
# Front matter
# ---------------------------------------------------------------------------

QIITA_FRONT = {"title": "テスト記事", "tags": ["Python", "機械学習"], "private": False, "updated_at": "", "id": None,
               "organization_url_name": None, "slide": False, "ignorePublish": False}


def test_qiita_front_matter_clean():
    assert QIITA.front_matter_problems(QIITA_FRONT) == []
    campaign = {**QIITA_FRONT, "posting_campaign_uuid": "abc", "agreed_posting_campaign_term": True}
    assert QIITA.front_matter_problems(campaign) == []


@pytest.mark.parametrize("change, message", [
    ({"title": ""}, "the title must be non-empty text"),
    ({"title": None}, "the title must be non-empty text"),
    ({"title": "あ" * 256}, "Qiita refuses 256 or more"),
    ({"tags": []}, "Qiita takes 1 to 5 tags, got 0"),
    ({"tags": ["a"] * 6}, "Qiita takes 1 to 5 tags, got 6"),
    ({"tags": "Python"}, "Qiita takes 1 to 5 tags"),
    ({"tags": ["Python", ""]}, "Qiita refuses empty tags"),
    ({"tags": ["Machine Learning"]}, "no spaces or line breaks"),
    ({"tags": ["Python\n"]}, "no spaces or line breaks"),
    ({"private": "false"}, "private must be true or false"),
    ({"slide": None}, "slide must be true or false"),
    ({"id": 12}, "id must be a string or null"),
    ({"private": True, "organization_url_name": "org"}, "cannot belong to an Organization"),
    ({"private": True, "posting_campaign_uuid": "c", "agreed_posting_campaign_term": True},
     "a private article cannot join a posting campaign"),
    ({"posting_campaign_uuid": "c"}, "a posting campaign needs agreed_posting_campaign_term: true"),
    ({"posting_campaign_uuid": "c", "agreed_posting_campaign_term": "yes"}, "agreed_posting_campaign_term must be"),
])
def test_qiita_front_matter_rules(change, message):
    problems = QIITA.front_matter_problems({**QIITA_FRONT, **change})
    assert any(message in p for p in problems), problems
    assert all(p.startswith("front matter: ") for p in problems)


ZENN_FRONT = {"title": "テスト記事", "emoji": "🧪", "type": "tech", "topics": ["python", "machinelearning"],
              "published": False}
NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def test_zenn_front_matter_clean():
    assert ZENN.front_matter_problems(ZENN_FRONT, now=NOW) == []
    scheduled = {**ZENN_FRONT, "published": True, "published_at": "2026-07-01 09:00", "publication_name": "team_ai"}
    assert ZENN.front_matter_problems(scheduled, now=NOW) == []
    past = {**ZENN_FRONT, "published_at": "2026-05-01"}
    assert ZENN.front_matter_problems(past, now=NOW) == []
    no_emoji = {k: v for k, v in ZENN_FRONT.items() if k != "emoji"}  # only a warning in zenn-cli
    assert ZENN.front_matter_problems(no_emoji, now=NOW) == []


@pytest.mark.parametrize("change, message", [
    ({"title": ""}, "title must be a non-empty string"),
    ({"title": "あ" * 71}, "title is 71 characters"),
    ({"title": "😀" * 36}, "title is 72 characters"),  # counted as JavaScript does
    ({"emoji": "🧪🧪"}, "emoji must be exactly one emoji"),
    ({"emoji": "ab"}, "emoji must be exactly one emoji"),
    ({"type": "article"}, "type must be tech or idea"),
    ({"topics": ["a", "b", "c", "d", "e", "f"]}, "6 topics"),
    ({"topics": ["python", ""]}, "every topic must be a non-empty string"),
    ({"topics": ["python", 3]}, "every topic must be a non-empty string"),
    ({"topics": ["a" * 19]}, "longer than 18 characters"),
    ({"published": "false"}, "published must be true or false"),
    ({"published_at": "2026/07/01"}, "published_at must be"),
    ({"published_at": "2026-02-30"}, "published_at must be"),
    ({"published_at": "2026-07-01 25:00"}, "published_at must be"),
    ({"published_at": "2026-07-01"}, "a future published_at needs published: true"),
    ({"publication_name": "Team-AI"}, "publication_name must be"),
    ({"publication_name": "a"}, "publication_name must be"),
])
def test_zenn_front_matter_rules(change, message):
    problems = ZENN.front_matter_problems({**ZENN_FRONT, **change}, now=NOW)
    assert any(message in p for p in problems), problems
    assert all(p.startswith("front matter: ") for p in problems)


@pytest.mark.parametrize("emoji", ["🧪", "❤️", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🇯🇵", "1️⃣", "🏳️‍🌈"])
def test_one_emoji(emoji):
    assert is_one_emoji(emoji)


@pytest.mark.parametrize("text", ["", "a", "🧪🧪", "🧪a", "🇯", ":smile:", "‍🧪"])
def test_not_one_emoji(text):
    assert not is_one_emoji(text)


@pytest.mark.parametrize("slug, ok", [
    ("fixture-article", True),
    ("a1b2c3d4e5f6", True),
    ("a" * 50, True),
    ("short-slug", False),  # 10 characters
    ("a" * 51, False),
    ("Fixture-Article", False),
    ("fixture.article", False),
    ("記事のスラッグです十二文字", False),
])
def test_zenn_slug(slug, ok):
    assert (ZENN.slug_problems(slug) == []) is ok


# ---------------------------------------------------------------------------
# One rule, two doors: config validation and the export check agree
# ---------------------------------------------------------------------------

def _config_problems(tmp_path, table: str) -> list[str]:
    (tmp_path / "pyproject.toml").write_text(f"[tool.pipeline]\n{table}\n", encoding="utf-8")
    try:
        load_config(tmp_path)
    except ConfigError as exc:
        return exc.problems
    return []


@pytest.mark.parametrize("topics", [
    ["python"], ["a" * 18], ["😀" * 9], ["😀" * 10], ["あ" * 18], ["あ" * 19], ["a", "b", "c", "d", "e", "f"], [""],
])
def test_zenn_topics_config_and_export_agree(tmp_path, topics):
    """A topic list the config accepts is one the Zenn front-matter check accepts, and the other
    way round (lengths counted in UTF-16 units by both: "😀" * 10 is 20 units)."""
    table = "[tool.pipeline.zenn]\ntopics = [" + ", ".join(f'"{t}"' for t in topics) + "]"
    config_ok = not [p for p in _config_problems(tmp_path, table) if "topics" in p]
    export_ok = not [p for p in ZENN.front_matter_problems({**ZENN_FRONT, "topics": topics}, now=NOW) if "topic" in p]
    assert config_ok == export_ok


@pytest.mark.parametrize("table, key", [
    ('[tool.pipeline.zenn]\nslug = "short"', "tool.pipeline.zenn.slug"),
    ('[tool.pipeline.zenn]\npublication_name = "Team-AI"', "tool.pipeline.zenn.publication_name"),
    ('[tool.pipeline.article]\ntags = ["Machine Learning"]', "tool.pipeline.article.tags"),
    ('[tool.pipeline.article]\ntags = []', "tool.pipeline.article.tags"),
    ('[tool.pipeline.article]\nprivate = true\norganization_url_name = "org"', "tool.pipeline.article"),
])
def test_config_uses_the_platform_rules(tmp_path, table, key):
    problems = _config_problems(tmp_path, table)
    assert any(p.startswith(key + ":") for p in problems), problems


@pytest.mark.parametrize("name, size, ok", [
    ("fig.png", 1000, True), ("fig.svg", 1000, False), ("fig.PNG", 3 * 1024 * 1024, True),
    ("fig.png", 3 * 1024 * 1024 + 1, False), ("fig.webp", 10, True),
])
def test_zenn_image_rules(name, size, ok):
    assert (ZENN.image_problems(name, size) == []) is ok


def test_zenn_article_limit_names_the_limit_and_the_fix():
    assert ZENN.article_problems("あ" * 80_000) == []
    [problem] = ZENN.article_problems("あ" * 80_001)
    assert "80,000" in problem and "80,001" in problem and "split" in problem


@pytest.mark.parametrize("check", [check_qiita, check_zenn])
def test_a_long_mermaid_diagram_is_reported(check):
    short = "```mermaid\ngraph TD\n" + "A-->B\n" * 10 + "```\n"
    long = "```mermaid\ngraph TD\n" + "A-->B\n" * 400 + "```\n"
    assert not any("mermaid" in p for p in check(short))
    assert any("mermaid diagram of 2,409 characters" in p for p in check(long)), check(long)
    assert not any("mermaid" in p for p in check(long.replace("mermaid", "text")))


def test_zenn_topic_symbols_are_a_warning_not_a_refusal():
    assert ZENN.topic_warnings(["machine-learning", "python"]) == ["topics with a symbol or a space: 'machine-learning'"]
    assert ZENN.topic_warnings(["python", "機械学習"]) == []
    assert ZENN.topic_problems(["machine-learning"]) == []  # zenn-cli publishes it
