"""Remote kernels through a real Jupyter Kernel Gateway started on 127.0.0.1 with a token:
same records as a local run, clear errors for a bad token, no gateway, or a gateway that dies."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow
TOKEN = "gateway-token-NOT-TO-BE-WRITTEN"

EXPERIMENT = '''
# ---
# jupyter:
#   pipeline:
#     data: [words.txt]
# ---

# %% [markdown]
# # Remote

# %% Read the data
import json, os
from pipeline.glue import glue
from pipeline.lab import settings
words = open("words.txt").read().split()
print(len(words), "words:", " ".join(words))
glue("n_words", len(words))
print("model id:", settings()["model"]["id"])

# %% A table and a figure alt="A line"
import pandas as pd
import matplotlib.pyplot as plt
plt.figure(figsize=(2, 2)); plt.plot([1, 2, 3]); plt.show()
pd.DataFrame({"word": words})

# %% [markdown]
# ## 考察
# {{ n_words }} words.
'''


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_gateway():
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "kernel_gateway", "--KernelGatewayApp.ip=127.0.0.1",
                             f"--KernelGatewayApp.port={port}", f"--KernelGatewayApp.auth_token={TOKEN}",
                             "--JupyterWebsocketPersonality.list_kernels=True"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            request = urllib.request.Request(url + "/api/kernels", headers={"Authorization": f"token {TOKEN}"})
            urllib.request.urlopen(request, timeout=1).close()
            return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    pytest.fail("the kernel gateway did not start")


@pytest.fixture(scope="module")
def gateway():
    proc, url = _start_gateway()
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def _project(root):
    (root / "experiments").mkdir(parents=True)
    (root / "experiments" / "words.txt").write_text("king queen prince\n", encoding="utf-8")
    (root / "experiments" / "01_remote.py").write_text(EXPERIMENT.lstrip("\n"), encoding="utf-8")
    (root / "pyproject.toml").write_text('[tool.pipeline]\ncell_timeout = 120\n[tool.pipeline.model]\nid = "local-test-model"\n',
                                         encoding="utf-8")
    return root


def _cli(root, *args, gateway=None, token=TOKEN, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("JUPYTER_GATEWAY_URL", None)
    if gateway:
        env.update(JUPYTER_GATEWAY_URL=gateway, JUPYTER_GATEWAY_AUTH_TOKEN=token)
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _masked_record(root):
    data = json.loads((root / "build" / "records" / "01_remote.json").read_text(encoding="utf-8"))
    data["execution"] = {"mode": data["execution"]["mode"]}
    data["environment"] = None
    for cell in data["cells"]:
        cell["execution_time"] = None
    return data


def test_a_build_on_the_gateway_gives_the_records_of_a_local_build(gateway, tmp_path):
    local, remote = _project(tmp_path / "local"), _project(tmp_path / "remote")
    assert _cli(local, "build").returncode == 0
    result = _cli(remote, "build", gateway=gateway)
    assert result.returncode == 0, result.stderr
    assert f"on gateway {gateway}" in result.stderr
    assert _masked_record(remote) == _masked_record(local)
    record = json.loads((remote / "build" / "records" / "01_remote.json").read_text(encoding="utf-8"))
    assert record["execution"]["host"] == gateway
    assert "3 words: king queen prince" in json.dumps(record) and "model id: local-test-model" in json.dumps(record)
    again = _cli(remote, "build", gateway=gateway)
    assert "01_remote: cached" in again.stderr  # the key uses what the gateway's kernels report
    for path in remote.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in result.stdout + result.stderr + again.stdout + again.stderr


def test_a_wrong_token_and_a_missing_gateway_are_named_with_the_fix(gateway, tmp_path):
    root = _project(tmp_path / "p")
    refused = _cli(root, "build", gateway=gateway, token="wrong")
    assert refused.returncode == 1
    assert f"error: gateway {gateway} refused the token (HTTP 401); set JUPYTER_GATEWAY_AUTH_TOKEN" in refused.stderr
    missing = _cli(root, "build", "--gateway-url", f"http://someone:secret-pw@127.0.0.1:{_free_port()}")
    assert missing.returncode == 1 and "is unreachable" in missing.stderr and "JUPYTER_GATEWAY_URL" in missing.stderr
    assert "secret-pw" not in missing.stderr
    assert "Traceback" not in refused.stderr + missing.stderr
    assert not (root / "build" / "records").exists()


def test_a_gateway_that_dies_mid_run_fails_the_build_and_keeps_the_last_article(tmp_path):
    proc, url = _start_gateway()
    root = _project(tmp_path / "p")
    try:
        assert _cli(root, "build", gateway=url).returncode == 0
        article = (root / "build" / "qiita" / "article.md").read_text(encoding="utf-8")
        script = root / "experiments" / "01_remote.py"
        script.write_text(script.read_text(encoding="utf-8").replace('glue("n_words", len(words))',
                                                                     'glue("n_words", len(words))\nimport time; time.sleep(30)'),
                          encoding="utf-8")
        build = subprocess.Popen([sys.executable, "-m", "pipeline", "build"], cwd=root, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 env={**os.environ, "PYTHONPATH": str(REPO), "JUPYTER_GATEWAY_URL": url,
                                      "JUPYTER_GATEWAY_AUTH_TOKEN": TOKEN})
        time.sleep(6)
        proc.send_signal(signal.SIGKILL)
        output, _ = build.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    assert build.returncode == 1, output
    assert f"lost the kernel on gateway {url}" in output and "check that the gateway is running" in output
    assert (root / "build" / "qiita" / "article.md").read_text(encoding="utf-8") == article
