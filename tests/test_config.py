import pytest

from pipeline.config import load_config
from pipeline.errors import ConfigError


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
