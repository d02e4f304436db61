"""Remote kernels through a real Jupyter Kernel Gateway and a real Jupyter Enterprise Gateway,
started on 127.0.0.1 with a token: same records as a local run, clear errors for a bad token,
a user the gateway refuses (Enterprise Gateway refuses root), no gateway, or a gateway that dies.

Enterprise Gateway 3.x pins jupyter_client<7, jupyter_server<2 and pyzmq<25, so it cannot share
this project's environment: it runs from its own (ENTERPRISE_GATEWAY_PYTHON, by default
.venv/enterprise-gateway/bin/python), with a kernelspec that starts this environment's ipykernel.
"""

import getpass
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import REPO
from helpers import free_port, masked_record, pipeline_command, run_pipeline

pytestmark = pytest.mark.slow
TOKEN = "gateway-token-NOT-TO-BE-WRITTEN"
EG_PYTHON = Path(os.environ.get("ENTERPRISE_GATEWAY_PYTHON")
                 or Path(os.environ.get("VIRTUAL_ENV") or REPO / ".venv") / "enterprise-gateway" / "bin" / "python")
EG_INSTALL = ("python -m venv .venv/enterprise-gateway && "
              ".venv/enterprise-gateway/bin/pip install jupyter_enterprise_gateway==3.3.0")
#: what an Enterprise Gateway kernel needs to start as someone it accepts (it refuses root by default)
EG_USER = {"KERNEL_USERNAME": "pipeline-test"}

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


@dataclass
class Gateway:
    url: str
    proc: subprocess.Popen
    log: Path
    #: what a build must add to its environment to use it
    env: dict = field(default_factory=dict)


def _needs_enterprise_gateway() -> None:
    if not EG_PYTHON.exists():
        problem = f"needs Jupyter Enterprise Gateway in its own environment at {EG_PYTHON}: {EG_INSTALL}"
        if os.environ.get("CI"):
            pytest.fail(f"CI: {problem}", pytrace=False)
        pytest.skip(problem)


def _start_gateway(folder: Path, kind: str = "kernel-gateway") -> Gateway:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if kind == "kernel-gateway":
        command = [sys.executable, "-m", "kernel_gateway", "--KernelGatewayApp.ip=127.0.0.1",
                   f"--KernelGatewayApp.port={port}", f"--KernelGatewayApp.auth_token={TOKEN}",
                   "--JupyterWebsocketPersonality.list_kernels=True"]
        extra = {}
    else:
        _needs_enterprise_gateway()
        spec = folder / "share" / "jupyter" / "kernels" / "python3"
        spec.mkdir(parents=True, exist_ok=True)
        (spec / "kernel.json").write_text(json.dumps({  # its kernels run this environment's ipykernel
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3", "language": "python"}), encoding="utf-8")
        env.update(JUPYTER_PATH=str(folder / "share" / "jupyter"),
                   EG_UNAUTHORIZED_USERS=f"root,{getpass.getuser()}")  # root: its default; also whoever runs this
        command = [str(EG_PYTHON), "-m", "enterprise_gateway", "--EnterpriseGatewayApp.ip=127.0.0.1",
                   f"--EnterpriseGatewayApp.port={port}", f"--EnterpriseGatewayApp.auth_token={TOKEN}"]
        extra = EG_USER
    log = folder / f"{kind}.log"
    with log.open("wb") as handle:
        proc = subprocess.Popen(command, cwd=folder, env=env, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            request = urllib.request.Request(url + "/api/kernelspecs", headers={"Authorization": f"token {TOKEN}"})
            urllib.request.urlopen(request, timeout=1).close()
            return Gateway(url, proc, log, extra)
        except OSError:
            time.sleep(0.05)  # polling for the port to open
    proc.kill()
    proc.wait()
    pytest.fail(f"the {kind} did not start; its log ends: {log.read_text(errors='replace')[-2000:]}")


@pytest.fixture(scope="module", params=["kernel-gateway", "enterprise-gateway"])
def gateway(request, tmp_path_factory):
    started = _start_gateway(tmp_path_factory.mktemp(request.param), request.param)
    yield started
    started.proc.terminate()
    started.proc.wait(timeout=20)


def _project(root):
    (root / "experiments").mkdir(parents=True)
    (root / "experiments" / "words.txt").write_text("king queen prince\n", encoding="utf-8")
    (root / "experiments" / "01_remote.py").write_text(EXPERIMENT.lstrip("\n"), encoding="utf-8")
    (root / "pyproject.toml").write_text('[tool.pipeline]\ncell_timeout = 120\n[tool.pipeline.model]\nid = "local-test-model"\n',
                                         encoding="utf-8")
    return root


def _env(gateway: Gateway | None = None, token=TOKEN, user: dict | None = None) -> dict:
    """This process's environment for a build on *gateway* (with its extra variables, or *user*)."""
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_GATEWAY_URL" and not k.startswith("KERNEL_")}
    env["PYTHONPATH"] = str(REPO)
    if gateway:
        env.update(JUPYTER_GATEWAY_URL=gateway.url, JUPYTER_GATEWAY_AUTH_TOKEN=token)
        env.update(gateway.env if user is None else user)
    return env


def _cli(root, *args, gateway=None, token=TOKEN, user=None, timeout=300):
    env = _env(gateway, token, user)
    return run_pipeline(*args, cwd=root, env=env, timeout=timeout)


def _masked_record(root):
    """The record without what differs between hosts (the execution details, the environment)."""
    return masked_record(root / "build" / "records" / "01_remote.json", keep_only=("mode",), environment=False)


def test_a_build_on_the_gateway_gives_the_records_of_a_local_build(gateway, tmp_path):
    local, remote = _project(tmp_path / "local"), _project(tmp_path / "remote")
    assert _cli(local, "build").returncode == 0
    result = _cli(remote, "build", gateway=gateway)
    assert result.returncode == 0, result.stderr
    assert f"on gateway {gateway.url}" in result.stderr
    assert _masked_record(remote) == _masked_record(local)
    record = json.loads((remote / "build" / "records" / "01_remote.json").read_text(encoding="utf-8"))
    assert record["execution"]["host"] == gateway.url
    assert "3 words: king queen prince" in json.dumps(record) and "model id: local-test-model" in json.dumps(record)
    again = _cli(remote, "build", gateway=gateway)
    assert "01_remote: cached" in again.stderr  # the key uses what the gateway's kernels report
    for path in remote.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in result.stdout + result.stderr + again.stdout + again.stderr


def test_a_wrong_token_is_named_with_the_fix(gateway, tmp_path):
    root = _project(tmp_path / "p")
    refused = _cli(root, "build", gateway=gateway, token="wrong")
    assert refused.returncode == 1
    assert (f"error: gateway {gateway.url} refused the token (HTTP 401); set JUPYTER_GATEWAY_AUTH_TOKEN to the "
            "token the gateway was started with") in refused.stderr
    assert "KERNEL_USERNAME" not in refused.stderr and "Traceback" not in refused.stderr
    assert not (root / "build" / "records").exists()


def test_enterprise_gateway_refusing_root_asks_for_kernel_username_not_the_token(tmp_path):
    gateway = _start_gateway(tmp_path / "eg", "enterprise-gateway")
    root = _project(tmp_path / "p")
    try:
        refused = _cli(root, "build", gateway=gateway, user={})  # no KERNEL_USERNAME: the user running this
        named = _cli(root, "build", gateway=gateway, user={"KERNEL_USERNAME": "root"})
    finally:
        gateway.proc.terminate()
        gateway.proc.wait(timeout=20)
    for result, user in ((refused, getpass.getuser()), (named, "root")):
        assert result.returncode == 1, result.stderr
        assert (f"error: gateway {gateway.url} refused to start a kernel for this user (HTTP 403: User '{user}' "
                "is not authorized to start kernel") in result.stderr
        assert ("set KERNEL_USERNAME to a non-root user name the gateway accepts, e.g. "
                "`export KERNEL_USERNAME=$USER`") in result.stderr and "unauthorized_users" in result.stderr
        assert "refused the token" not in result.stderr and "Traceback" not in result.stderr
        assert TOKEN not in result.stdout + result.stderr
    assert not (root / "build" / "records").exists()


def test_a_missing_gateway_is_named_with_the_fix(tmp_path):
    root = _project(tmp_path / "p")
    missing = _cli(root, "build", "--gateway-url", f"http://someone:secret-pw@127.0.0.1:{free_port()}")
    assert missing.returncode == 1 and "is unreachable" in missing.stderr and "JUPYTER_GATEWAY_URL" in missing.stderr
    assert "secret-pw" not in missing.stderr and "Traceback" not in missing.stderr
    assert not (root / "build" / "records").exists()


def test_a_gateway_that_dies_mid_run_fails_the_build_and_keeps_the_last_article(tmp_path):
    gateway = _start_gateway(tmp_path / "kg")
    root = _project(tmp_path / "p")
    started = tmp_path / "cell-started"  # the kernel runs on this machine: the cell marks that it is running
    try:
        assert _cli(root, "build", gateway=gateway).returncode == 0
        article = (root / "build" / "qiita" / "article.md").read_text(encoding="utf-8")
        script = root / "experiments" / "01_remote.py"
        script.write_text(script.read_text(encoding="utf-8").replace(
            'glue("n_words", len(words))',
            f'glue("n_words", len(words))\nopen({str(started)!r}, "w").close(); import time; time.sleep(60)'),
            encoding="utf-8")
        build = subprocess.Popen(pipeline_command("build"), cwd=root, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env(gateway))
        deadline = time.monotonic() + 120
        while not started.exists() and build.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # polling for the cell to start
        running = started.exists() and build.poll() is None
        gateway.proc.send_signal(signal.SIGKILL)
        output, _ = build.communicate(timeout=120)
    finally:
        gateway.proc.kill()
        gateway.proc.wait()
    assert running, f"the cell never started on the gateway: {output}"
    assert build.returncode == 1, output
    assert f"lost the kernel on gateway {gateway.url}" in output and "check that the gateway is running" in output
    assert (root / "build" / "qiita" / "article.md").read_text(encoding="utf-8") == article


@pytest.mark.parametrize(("status", "body", "expected"), [
    (403, b'{"reason": "Invalid token in the Authorization header", "message": ""}',
     "refused the token (HTTP 403: Invalid token in the Authorization header); set JUPYTER_GATEWAY_AUTH_TOKEN"),
    (403, f'{{"message": "token {TOKEN} is not valid"}}'.encode(),
     "refused the token (HTTP 403: token *** is not valid); set JUPYTER_GATEWAY_AUTH_TOKEN"),
    (403, b'{"reason": "User \'alice\' is not in the set of users authorized to start kernel \'Python 3\'. '
          b'Ensure KERNEL_USERNAME is set to an appropriate value and retry the request.", "message": ""}',
     "refused to start a kernel for this user (HTTP 403: User 'alice' is not in the set of users authorized"),
    (403, b"<html><body><h1>Forbidden</h1><p>blocked by proxy policy</p></body></html>",
     "refused the request (HTTP 403: Forbidden blocked by proxy policy); check the gateway's access settings"),
    (403, b"", "refused the request (HTTP 403, no reason given); check the gateway's access settings, and that "
               "JUPYTER_GATEWAY_AUTH_TOKEN"),
])
def test_a_refusal_is_told_in_the_gateway_s_own_words(status, body, expected):
    """Other gateways and proxies refuse differently from the two started above: the HTTP boundary, as
    jupyter_server's gateway client raises it (its HTTPError, caused by tornado's with the response)."""
    from io import BytesIO

    from tornado.httpclient import HTTPClientError, HTTPRequest, HTTPResponse
    from tornado.web import HTTPError

    from pipeline.run.gateway import _explain

    url = "http://127.0.0.1:9"
    response = HTTPResponse(HTTPRequest(url + "/api/kernels"), status, buffer=BytesIO(body))
    try:
        try:
            raise HTTPClientError(status, response=response)
        except HTTPClientError as cause:
            raise HTTPError(status, "Error from Gateway: [%s] %s.", cause.message, TOKEN) from cause
    except HTTPError as error:
        message = _explain(error, url, TOKEN)
    assert message.startswith(f"gateway {url} ") and expected in message, message
    assert TOKEN not in message
