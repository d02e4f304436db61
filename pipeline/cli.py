"""The command line: parse, load the config, call one stage function, report.

Known errors (``PipelineError``) become one readable message and exit 1;
``--debug`` or ``PIPELINE_DEBUG=1`` re-raises them with the full traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import __version__

DESCRIPTION = """\
Turn executed ML experiments (Jupytext percent scripts in experiments/) into a
Qiita-style article. Stages: execute -> harvest -> (draft) -> render -> export;
`build` runs them all. Configuration: [tool.pipeline] in pyproject.toml."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-C", "--root", type=Path, default=None,
                        help="project folder holding pyproject.toml (default: nearest one above the current folder)")
    parser.add_argument("--debug", action="store_true", default=os.environ.get("PIPELINE_DEBUG") == "1",
                        help="show full tracebacks instead of short messages (or set PIPELINE_DEBUG=1)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print warnings and errors only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("execute", help="run experiments in Jupyter kernels (unchanged ones come from the cache)",
                       description="Execute experiments in fresh Jupyter kernels. An experiment whose cache key "
                       "(code cells, kernel, model settings, package versions, data files) is unchanged is not run again.")
    p.add_argument("names", nargs="*", metavar="NAME", help="experiments to run (file stems); default: all")
    p.add_argument("--force", action="store_true", help="re-execute even when the cache holds a result")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failing experiment")

    p = sub.add_parser("harvest", help="turn executed notebooks into records (JSON) and figure files",
                       description="Write build/records/NAME.json and build/figures/NAME/ from the executed notebooks.")
    p.add_argument("names", nargs="*", metavar="NAME", help="experiments to harvest; default: all")

    p = sub.add_parser("build", help="execute (cached) + harvest + render + export: the whole article",
                       description="Run every stage. A failing stage leaves the previous outputs in place.")
    p.add_argument("--force", action="store_true", help="re-execute every experiment")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failing experiment")
    p.add_argument("--llm", nargs="?", const="on", choices=["on", "required", "off"], default=None,
                   help="draft explanatory prose with an LLM (OpenAI-compatible endpoint from OPENAI_BASE_URL / "
                   "tool.pipeline.llm.base_url, key from OPENAI_API_KEY). 'required' fails the build when drafting "
                   "fails; by default the author's text is used. Default: tool.pipeline.llm.enabled")
    p.add_argument("--redraft", action="store_true", help="ignore cached drafts and ask the LLM again")
    p.add_argument("--llm-model", metavar="NAME", help="model name for the LLM pass (default: tool.pipeline.llm.model)")
    p.add_argument("--llm-base-url", metavar="URL", help="OpenAI-compatible endpoint (default: config, then OPENAI_BASE_URL)")

    sub.add_parser("export", help="render the stored records into the Qiita article, qiita-cli file and MkDocs page",
                   description="Render build/records/ into build/qiita/article.md (paste into Qiita), "
                   "build/qiita/public/<slug>.md (qiita-cli: npx qiita publish <slug>) and site/index.md (mkdocs serve).")

    sub.add_parser("config", help="print the resolved [tool.pipeline] configuration as JSON",
                   description="Validate [tool.pipeline] and print every setting with its resolved value.")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("interrupted; the last good outputs are unchanged", file=sys.stderr)
        return 130
    except Exception as exc:
        from .errors import PipelineError

        if args.debug or not isinstance(exc, PipelineError):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _run(args) -> int:
    from .config import load_config
    from .progress import Progress

    config = load_config(args.root)
    progress = Progress(quiet=args.quiet)
    if args.command == "config":
        print(json.dumps(config.describe(), indent=2, ensure_ascii=False))
        return 0
    if args.command == "execute":
        from .execute import execute

        summary = execute(config, args.names, force=args.force, fail_fast=args.fail_fast, progress=progress)
        progress.info(f"executed {summary.count('executed')}, cached {summary.count('cached')}")
        return 0
    if args.command == "harvest":
        from .harvest import harvest

        records = harvest(config, args.names, progress=progress)
        progress.info(f"wrote {len(records)} records to {config.records_dir}")
        return 0
    if args.command == "export":
        from .build import publish
        from .harvest import load_records

        exported = publish(load_records(config), config, progress)
        _report_export(exported, progress)
        return 0
    if args.command == "build":
        from .build import LlmOptions, build

        mode = args.llm or ("on" if config.llm.enabled else "off")
        llm = LlmOptions(enabled=mode != "off", required=mode == "required", redraft=args.redraft,
                         model=args.llm_model, base_url=args.llm_base_url)
        result = build(config, force=args.force, fail_fast=args.fail_fast, llm=llm, progress=progress)
        _summary(result, config, progress)
        return 0
    raise AssertionError(args.command)


def _summary(result, config, progress) -> None:
    figures = sum(len(r.figures) for r in result.records)
    progress.info(
        f"build finished: {result.execution.count('executed')} executed, {result.execution.count('cached')} cached, "
        f"{figures} figures, {len(result.warnings)} warnings"
    )
    if result.drafts is not None:
        d = result.drafts
        progress.info(f"  LLM drafts ({d.model}): {d.requests} requests, {d.cached} from the cache, "
                      f"{len(d.unsupported)} unsupported claims")
    for warning in result.warnings:
        progress.info(f"  warning: {warning}")
    progress.info(f"  records: {config.records_dir}")
    _report_export(result.exported, progress)


def _report_export(exported, progress) -> None:
    progress.info(f"  Qiita article (paste): {exported.article}")
    progress.info(f"  qiita-cli file:        {exported.qiita_cli}")
    progress.info(f"  MkDocs page:           {exported.site_page}  (preview: mkdocs serve)")
    if exported.uploads:
        progress.info(f"  {len(exported.uploads)} figures to upload to Qiita (no image_base_url set); "
                      "replace each FIGURE-TO-UPLOAD: link with the uploaded image's URL:")
        for path in exported.uploads:
            progress.info(f"    {path}")
