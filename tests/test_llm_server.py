"""`build --llm` against a real OpenAI-compatible server: llama-cpp-python serving the
embedded SmolLM2 GGUF on 127.0.0.1, started and stopped by the test."""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import REPO
from helpers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.requires("llama_cpp")]

EXPERIMENT = '''
# %% [markdown]
# # 語彙の大きさ
# 語彙の数を数える。

# %%
from pipeline.glue import glue
vocab = ["the", "capital", "of", "Japan"]
print(len(vocab))
glue("vocab_count", len(vocab))

# %% [markdown]
# ## 考察
# 語彙は {{ vocab_count }} 語だった。
'''


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    from pipeline.lab import embedded_gguf_path

    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    handle = open(log, "w")
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_gguf_path()),
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--seed", "0"],
                            stdout=handle, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(120):
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/models", timeout=1).read()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("llama_cpp.server did not start within 60s")
        yield url, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        handle.close()


def _completions(log) -> int:
    return log.read_text(errors="replace").count("POST /v1/chat/completions")


def test_build_with_llm_drafts_from_the_server_then_uses_the_cache(project, llama_server):
    url, log = llama_server
    shutil.copytree(REPO / "templates", project.root / "templates")
    project.add("01_vocab", EXPERIMENT)
    project.write_config('[tool.pipeline.article]\ntitle = "LLM 下書きのテスト"\n'
                         '[tool.pipeline.llm]\nmodel = "smollm2"\nmax_tokens = 120\nmax_retries = 1\n')
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENAI_API_KEY": "sk-local-test-key-NOT-TO-BE-WRITTEN"}
    command = [sys.executable, "-m", "pipeline", "build", "--llm=required", "--llm-base-url", url]

    before = _completions(log)
    first = subprocess.run(command, cwd=project.root, capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr
    made = _completions(log) - before
    assert made == 5  # introduction, the experiment's intro and notes, summary, title and tags proposal
    # every line names the model that answered: the configured name only as what was asked for
    served = "SmolLM2-135M-Instruct.Q4_1.gguf"
    asking = first.stderr.index(f"asking {url} (configured model: smollm2) for 5 of 5 sections")
    assert asking < first.stderr.index(f": answered by {served} in ")
    assert f"LLM drafts by {served} at 127.0.0.1:" in first.stderr and ": 5 requests, 0 from the cache" in first.stderr
    assert "smollm2" not in first.stderr.replace("(configured model: smollm2)", "")

    article = (project.root / "build" / "qiita" / "article.md").read_text(encoding="utf-8")
    assert "語彙は 4 語だった。" in article  # the author's observation stays
    drafted = [json.loads(p.read_text(encoding="utf-8")) for p in (project.root / "build" / "drafts").glob("*.json")]
    assert len(drafted) == 5 and {d["status"] for d in drafted} <= {"ok", "unusable"}
    # each answer is either published (marked as drafted, naming the served model, not the
    # requested name) or rejected with the gate's reason in the summary
    published = [d for d in drafted if d.get("gate") == "published" and d["section"] != "proposal"]
    for entry in drafted:
        assert entry.get("served", "SmolLM2-135M-Instruct.Q4_1.gguf") == "SmolLM2-135M-Instruct.Q4_1.gguf"
        if entry.get("gate") == "published" and entry["section"] != "proposal":
            first_line = entry["answer"].strip().splitlines()[0][:15]
            assert first_line in article.replace("<sup>要確認</sup>", "")
        elif entry.get("gate") != "published":
            reason = entry.get("gate") or entry["reason"]
            assert f"rejected {entry['section']}: {reason}" in first.stderr
            assert entry.get("answer", "")[:20] not in article or not entry.get("answer")
    disclosed = article.replace("\\.", ".")
    if published:
        assert "LLM (SmolLM2-135M-Instruct.Q4_1.gguf; 127.0.0.1:" in disclosed and "smollm2)" not in disclosed
    else:
        assert "no draft passed the gate" in first.stderr and "LLM (" not in disclosed

    second = subprocess.run(command, cwd=project.root, capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0, second.stderr
    assert _completions(log) - before == made  # zero new requests, rejected answers included
    assert f"LLM drafts by {served} at 127.0.0.1:" in second.stderr and ": 0 requests, 5 from the cache" in second.stderr
    assert "asking" not in second.stderr and "smollm2" not in second.stderr  # nothing was asked
    assert (project.root / "build" / "qiita" / "article.md").read_text(encoding="utf-8") == article

    for path in (project.root / "build").rglob("*"):
        if path.is_file():
            assert b"NOT-TO-BE-WRITTEN" not in path.read_bytes(), path
