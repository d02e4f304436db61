"""Kernels on a Jupyter Kernel Gateway or Enterprise Gateway (the ``remote`` extra).

With ``JUPYTER_GATEWAY_URL`` set (or ``gateway_url`` in the config, or
``--gateway-url``), every experiment's kernel starts on the gateway; the token
comes from ``JUPYTER_GATEWAY_AUTH_TOKEN`` and is never printed or written.
Everything else (cache, harvest, render, export) stays here.

- The kernel may not have this project installed: before the first cell, the
  helpers experiments import (``pipeline.glue``, ``pipeline.lab`` and what they
  need) are sent as source and registered as modules, the model settings are set
  as locally, the declared data files are written into a fresh working folder,
  and the display formatters of ``pipeline.kernel_extension`` are loaded.
- The cache key uses what the gateway's kernels report about themselves (Python,
  the versions of ``cache_packages``, the GPU), asked once per run from a short-lived
  kernel: a different GPU server is a different key.
- An unreachable gateway, a refused token, a refused user (Enterprise Gateway
  refuses ``root`` unless ``KERNEL_USERNAME`` names another) or a gateway that
  dies mid-run gives an error naming the gateway, what it said and the fix; the
  build stops and the last good outputs stay.
"""

from __future__ import annotations

import base64
import json
import re
from http import HTTPStatus
from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.records import Experiment
from pipeline.run.engines import LocalKernels
from pipeline.run.kernel_side import kernel_sources
from pipeline.run.sessions import KernelSession, KernelStartFailed, failure
from pipeline.text import safe_url

_ENVIRONMENT = """
def _pipeline_environment(names):
    import importlib.metadata as m, json, platform
    versions = {}
    for name in names:
        try:
            versions[name] = m.version(name)
        except Exception:
            versions[name] = "not installed"
    device = "cpu"
    try:
        import torch
        if torch.cuda.is_available():
            device = "cuda: " + torch.cuda.get_device_name(0) + ", CUDA " + str(torch.version.cuda)
    except ImportError:
        pass
    return json.dumps({"python": platform.python_version(), "packages": versions, "device": device})
"""


class GatewayError(PipelineError):
    """The gateway cannot be used: unreachable, refused the token or the user, or went away."""


#: a 403 about the user the kernel would run as (Enterprise Gateway refuses ``root`` by default)
_USER_REFUSED = re.compile(r"KERNEL_USERNAME|authorized to start kernel|set of users authorized", re.IGNORECASE)
#: a 403 about the credentials themselves
_TOKEN_REFUSED = re.compile(r"token|authori[sz]ation header|unauthori[sz]ed|not authenticated", re.IGNORECASE)
_FIX_TOKEN = "set JUPYTER_GATEWAY_AUTH_TOKEN to the token the gateway was started with"
_FIX_USER = ("set KERNEL_USERNAME to a non-root user name the gateway accepts, e.g. `export KERNEL_USERNAME=$USER` "
             "(Enterprise Gateway refuses root unless its unauthorized_users setting is changed; if its "
             "authorized_users is set, the name must be in it)")


def _said(text: str) -> str:
    """A response body as one short line (JSON ``reason``/``message``, or the text without tags)."""
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        parts = [str(payload[k]).strip() for k in ("reason", "message") if isinstance(payload.get(k), str)]
        text = ": ".join(dict.fromkeys(p for p in parts if p))  # each once, in order
    text = " ".join(re.sub(r"<[^>]+>", " ", text).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _gateway_reason(error: BaseException, status) -> str:
    """What the gateway said about *error*: its response body, found on the error or on what it wraps
    (jupyter_server raises its own HTTPError from tornado's, which holds the response); "" when it
    said nothing beyond the status phrase."""
    seen: set[int] = set()
    reason = ""
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        body = getattr(getattr(error, "response", None), "body", None) or getattr(error, "resp_body", None)
        if body:
            reason = _said(body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body))
            break
        if isinstance(getattr(error, "message", None), str) and hasattr(error, "code"):  # tornado, no body
            reason = error.message
        error = error.__cause__ or error.__context__
    try:
        phrase = HTTPStatus(status).phrase
    except (ValueError, TypeError):
        phrase = ""
    return "" if reason.strip().lower() in ("", phrase.lower()) else reason


def _explain(error: BaseException, url: str, token: str = "") -> str:
    """The message for a gateway that cannot be used: who refused what, in the gateway's words, and the fix."""
    status = getattr(error, "status_code", None) or getattr(error, "code", None)
    where = f"gateway {safe_url(url)}"
    reason = _gateway_reason(error, status)
    detail = reason or str(error).replace(url, safe_url(url))
    detail = re.sub(r"//[^/\s:@]+:[^/\s@]+@", "//***@", detail.splitlines()[0][:300] if detail else "")
    if token:
        detail = detail.replace(token, "***")
    said = f": {detail}" if reason else ""
    if status == 401 or (status == 403 and reason and _TOKEN_REFUSED.search(reason)
                         and not _USER_REFUSED.search(reason)):
        return f"{where} refused the token (HTTP {status}{said}); {_FIX_TOKEN}"
    if status == 403 and reason and _USER_REFUSED.search(reason):
        return f"{where} refused to start a kernel for this user (HTTP 403{said}); {_FIX_USER}"
    if status == 403:
        return (f"{where} refused the request (HTTP 403{said or ', no reason given'}); check the gateway's "
                f"access settings, and that JUPYTER_GATEWAY_AUTH_TOKEN is the token it was started with")
    if status == 599 or isinstance(error, TimeoutError):
        return (f"{where} did not answer in time; check that it is running and reachable, or raise "
                "JUPYTER_GATEWAY_REQUEST_TIMEOUT and KERNEL_LAUNCH_TIMEOUT")
    if status in (503, None) or isinstance(error, (ConnectionError, OSError)):
        return (f"{where} is unreachable ({type(error).__name__}: {detail}); check that it "
                "is running and that JUPYTER_GATEWAY_URL (or --gateway-url) is right")
    if status == 404:
        return (f"{where} has no such kernel (HTTP 404{said}); check tool.pipeline.kernel against the "
                "gateway's kernelspecs")
    return f"{where} answered HTTP {status}: {detail}"


class GatewaySession(KernelSession):
    """A kernel started on the gateway, prepared to run an experiment written for a local one."""

    def __init__(self, experiment: Experiment, config, secrets: list[str], url: str):
        super().__init__(experiment, config, secrets)
        self.url = url
        self.where = f"gateway {safe_url(url)}"

    def _client(self, nb, **options):
        from pipeline.run.gateway_client import KernelManager

        # started through nbclient (no local folder or extension arguments: the bootstrap prepares the kernel)
        return super()._client(nb, kernel_manager_class=KernelManager)

    def _start_kernel(self) -> None:
        from pipeline.run.gateway_client import connect

        gateway = connect(self.url)
        km = self.client.km = self.client.create_kernel_manager()
        km.environment = self.environment()
        try:
            self.client.start_new_kernel()
            self.client.start_new_kernel_client()
        except Exception as exc:  # tornado HTTPError, websocket and socket errors: all mean "cannot use it"
            raise GatewayError(_explain(exc, self.url, gateway.auth_token or "")) from None
        self._bootstrap()

    def _bootstrap(self) -> None:
        """Send the helpers, settings and data files; load the display formatters."""
        from pipeline.lab import kernel_settings

        sources = kernel_sources()
        files = {str(p.relative_to(self.experiment.path.parent)) if p.is_relative_to(self.experiment.path.parent)
                 else p.name: base64.b64encode(p.read_bytes()).decode() for p in self.experiment.data_files}
        settings = kernel_settings(self.config)
        code = f"""
def _pipeline_bootstrap(sources, files, settings):
    import base64, os, sys, tempfile, types
    settings["models_dir"] = os.path.expanduser("~/.cache/ml-article-pipeline/models")
    os.environ["PIPELINE_SETTINGS"] = __import__("json").dumps(settings)
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    for name, source in sources.items():  # dependencies first
        full = "pipeline" if name == "__init__" else "pipeline." + name
        parent, _, leaf = full.rpartition(".")
        for package in ([] if name == "__init__" else parent.split(".")[1:]):  # subpackages
            parent_name = "pipeline." + package
            if parent_name not in sys.modules:
                sys.modules[parent_name] = types.ModuleType(parent_name)
                sys.modules[parent_name].__path__ = []
        module = types.ModuleType(full)
        module.__package__ = full if name == "__init__" else parent
        if name == "__init__":
            module.__path__ = []
        sys.modules[full] = module
        exec(compile(source, "<pipeline/" + name + ".py, sent by the pipeline>", "exec"), module.__dict__)
        if name != "__init__":
            setattr(sys.modules[parent], leaf, module)
    folder = tempfile.mkdtemp(prefix="pipeline-run-")
    for relative, data in files.items():
        path = os.path.join(folder, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(data))
    os.chdir(folder)
    sys.modules["pipeline.kernel_extension"].load_ipython_extension(get_ipython())
_pipeline_bootstrap({sources!r}, {files!r}, {settings!r})
del _pipeline_bootstrap
"""
        reply = self._silent(code)
        if reply.get("status") != "ok":
            raise KernelStartFailed(failure(self.experiment, None, "GatewayBootstrapError",
                                            f"preparing the kernel on {self.where} failed: {reply.get('ename')}: "
                                            f"{reply.get('evalue')}"))

    def _silent(self, code: str, expressions: dict | None = None) -> dict:
        msg_id = self.client.kc.execute(code, silent=True, store_history=False, stop_on_error=False,
                                        user_expressions=expressions or {})
        return self.client.wait_for_reply(msg_id)["content"]

    def environment_report(self, packages: list[str]) -> dict:
        """What the kernel says about itself, for the cache key."""
        import ast

        content = self._silent(_ENVIRONMENT, {"report": f"_pipeline_environment({packages!r})"})
        try:
            return json.loads(ast.literal_eval(content["user_expressions"]["report"]["data"]["text/plain"]))
        except (KeyError, ValueError, SyntaxError) as exc:
            raise GatewayError(f"{self.where}: the kernel did not report its environment ({exc}); "
                               "check that it is a Python kernel (tool.pipeline.kernel)") from None

    def kill(self) -> None:
        """Ask the gateway to end the kernel now (the owning thread then sees it die)."""
        from nbclient.util import run_sync

        km = getattr(self.client, "km", None)
        if km is not None and km.kernel_id:
            try:
                run_sync(km.shutdown_kernel)(now=True)
            except Exception:  # already gone, or the gateway is unreachable: nothing more to do
                pass

    def died(self) -> str:
        return (f"lost the kernel on {self.where} while running this cell (the gateway stopped, or the kernel died or "
                "was culled); check that the gateway is running, then build again")


def remote_environment(config, experiments_dir: Path) -> dict:
    """Ask a short-lived kernel on the gateway what it runs (for the cache key)."""
    import nbformat

    url = config.gateway_url
    probe = Experiment(name="(gateway probe)", path=experiments_dir / "(gateway probe)", source="(gateway probe)",
                       notebook=nbformat.v4.new_notebook(), title="", parameters={})
    session = GatewaySession(probe, config, [], url)
    try:
        session.start(nbformat.v4.new_notebook())
    except KernelStartFailed as exc:
        raise GatewayError(exc.failure.evalue) from None
    try:
        return session.environment_report(list(config.cache_packages))
    finally:
        session.close()


class GatewayKernels(LocalKernels):
    """The engine (``pipeline.run.engines``) of a fresh kernel per experiment on the gateway."""

    remote = True

    def __init__(self, config, secrets: list[str]):
        super().__init__(config, secrets)
        self.host = safe_url(config.gateway_url)
        self.where = f"gateway {self.host}"

    def environment(self, base: dict, progress) -> dict:
        """Python, package versions and device as the gateway's kernels report them (one short-lived kernel)."""
        progress.info(f"asking gateway {self.host} what its kernels run")
        report = remote_environment(self.config, self.config.experiments_dir)
        return {**base, "python": report["python"], "packages": report["packages"], "device": report["device"]}

    def session(self, experiment: Experiment) -> KernelSession:
        return GatewaySession(experiment, self.config, self.secrets, self.config.gateway_url)
