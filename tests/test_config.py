import json

import pytest

from pipeline.config import load_config
from pipeline.errors import ConfigError
from pipeline.markdown.platforms import ZENN


def test_defaults_resolve_paths_under_root(project):
    config = project.config()
    assert config.experiments_dir == project.root / "experiments"
    assert config.build_dir == project.root / "build"
    assert config.model.id == "embedded"
    assert config.cell_timeout == 60


def test_unknown_key_is_named_with_a_suggestion(project):
    project.write_config("cel_timeout = 5\n")
    with pytest.raises(ConfigError) as info:
        project.config()
    message = str(info.value)
    assert "tool.pipeline.cel_timeout: unknown key" in message
    assert "did you mean 'cell_timeout'" in message
    assert "pyproject.toml" in message


def test_every_problem_is_reported_at_once(project):
    project.write_config('kernel = 3\norder = "a"\n[tool.pipeline.model]\nquantization = "8bit"\nsede = 1\n')
    with pytest.raises(ConfigError) as info:
        project.config()
    problems = info.value.problems
    assert any(p.startswith("tool.pipeline.kernel: must be text") for p in problems)
    assert any(p.startswith("tool.pipeline.order: must be a list") for p in problems)
    assert any("tool.pipeline.model.quantization: must be one of" in p for p in problems)
    assert any("tool.pipeline.model.sede: unknown key (did you mean 'seed'?)" in p for p in problems)
    assert len(problems) == 4


@pytest.mark.parametrize("value", ["0", "-5", "true", '"10"'])
def test_timeouts_must_be_positive_whole_seconds(project, value):
    project.write_config(f"startup_timeout = {value}\n")
    with pytest.raises(ConfigError, match="startup_timeout"):
        project.config()


def test_invalid_toml_names_the_file(project):
    (project.root / "pyproject.toml").write_text("[tool.pipeline\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(project.root)


def test_overrides_are_validated_too(project):
    with pytest.raises(ConfigError, match="cell_timeout"):
        project.config(cell_timeout="soon")
    assert project.config(cell_timeout=5).cell_timeout == 5


# ---------------------------------------------------------------------------
# URL settings, slugs and titles (issue 24): refused by name before anything runs
# ---------------------------------------------------------------------------

HOSTILE_URLS = {
    "image_url_template": ["javascript:alert(document.cookie)//{commit}/{path}",
                           "data:image/svg+xml,<svg onload=alert(1)>{commit}{path}",
                           "https://raw.example.com/{commit}/{path}\n<script>alert(1)</script>",
                           'https://raw.example.com/{commit}/{path}) ![x](https://evil.example/x.png "t',
                           "//raw.example.com/{commit}/{path}", "https://raw.example.com/{commit}/{path} x"],
    "image_base_url": ["javascript:alert(1)//", "https://cdn.example.com/a b/", "ftp://cdn.example.com/",
                       "https://cdn.example.com/x'onerror='y/"],
    "source_base_url": ["vbscript:msgbox(1)", "https://github.com/u/r/blob/main/(x)", "https://github.com/<u>/"],
}


@pytest.mark.parametrize("key, value", [(k, v) for k, values in HOSTILE_URLS.items() for v in values])
def test_url_settings_must_be_plain_http_urls(project, key, value):
    project.write_config(f"[tool.pipeline.article]\n{key} = {json.dumps(value)}\n")
    with pytest.raises(ConfigError) as info:
        project.config()
    assert any(p.startswith(f"tool.pipeline.article.{key}: ") for p in info.value.problems), info.value.problems


@pytest.mark.parametrize("key, value", [
    ("image_url_template", "https://{host}/{owner}/{repo}/-/raw/{commit}/{path}"),
    ("image_base_url", "git"), ("image_base_url", "https://cdn.example.com/figs%20x/"),
    ("source_base_url", "http://localhost:8000/blob/main/"),
])
def test_good_url_settings_pass(project, key, value):
    project.write_config(f"[tool.pipeline.article]\n{key} = {json.dumps(value)}\n")
    assert getattr(project.config().article, key) == value


@pytest.mark.parametrize("slug", ["ａｂｃ", "日本語", "a b", "a.b", "x" * 101, ""])
def test_an_article_slug_is_checked_by_qiitas_rule_and_names_it(project, slug):
    project.write_config(f"[tool.pipeline.article]\nslug = {json.dumps(slug)}\n")
    with pytest.raises(ConfigError) as info:
        project.config()
    assert any(p.startswith("tool.pipeline.article.slug: ") and "Qiita" in p for p in info.value.problems)


@pytest.mark.parametrize("slug", ["ab", "a", "_", "-x-", "ABC", "article", "a" * 100])
def test_a_derived_zenn_slug_is_always_valid(project, slug):
    project.write_config(f'[tool.pipeline.article]\nslug = {json.dumps(slug)}\ntitle = "Some title"\n')
    config = project.config()
    assert ZENN.slug_problems(ZENN.slug_for(config)) == [], ZENN.slug_for(config)
    if len(slug) >= 12 and slug == slug.lower():
        assert ZENN.slug_for(config) == slug[:50]  # a slug that already fits is taken as it is


def test_a_zenn_slug_the_user_sets_is_checked_by_zenns_rule_and_names_it(project):
    project.write_config('[tool.pipeline.zenn]\nslug = "ab"\n')
    with pytest.raises(ConfigError) as info:
        project.config()
    assert any(p.startswith("tool.pipeline.zenn.slug: ") and "Zenn" in p for p in info.value.problems)


@pytest.mark.parametrize("key", ["title", "tags"])
@pytest.mark.parametrize("text", ["red\x1b[31m", "c1\x9b", "nonchar\ufffe", "del\x7f"])
def test_a_title_or_tag_with_control_characters_is_refused(project, key, text):
    escaped = '"' + "".join(c if c.isprintable() and c != '"' else f"\\u{ord(c):04x}" for c in text) + '"'  # TOML
    project.write_config(f'[tool.pipeline.article]\n{key} = {escaped if key == "title" else f"[{escaped}]"}\n')
    with pytest.raises(ConfigError) as info:
        project.config()
    assert any(p.startswith(f"tool.pipeline.article.{key}: ") and "U+" in p for p in info.value.problems)


def test_an_untitled_project_takes_its_first_notebooks_readable_name_then_the_folders(project):
    assert project.config().article.title == "Proj"  # no experiments: the folder's name
    project.add("01_data_loading", "# %%\nx = 1\n")
    project.add("02_model", "# %% [markdown]\n# Some text, no heading\n")
    assert project.config().article.title == "Data loading"
    project.add("00_intro", "# %% [markdown]\n# # The real title \x1b[31m\n")
    assert project.config().article.title == "The real title [31m"  # an H1 wins, cleaned of controls
