"""The command line: parse, load the config, call one stage function, report.

Known errors (``PipelineError``) become one readable message and exit 1;
``--debug`` or ``PIPELINE_DEBUG=1`` re-raises them with the full traceback.
Commands that write hold the build folder's lock and first finish any
publication an interrupted command left half-done.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from pipeline import __version__

DESCRIPTION = """\
Turn executed ML experiments (Jupytext percent scripts and .ipynb notebooks in
experiments/) into a Qiita-style article and an MkDocs site.
Stages: execute -> harvest -> (draft) -> render -> export; `build` runs them all.
Configuration: [tool.pipeline] in pyproject.toml."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-C", "--root", type=Path, default=None,
                        help="project folder holding pyproject.toml (default: nearest one above the current folder)")
    parser.add_argument("--debug", action="store_true", default=os.environ.get("PIPELINE_DEBUG") == "1",
                        help="show full tracebacks instead of short messages (or set PIPELINE_DEBUG=1)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print warnings and errors only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                title="commands (python -m pipeline COMMAND --help for each)")

    p = sub.add_parser("init", help="make a folder of notebooks (or an empty one) an article project",
                       description="Write [tool.pipeline] into pyproject.toml (appended to an existing file that lacks "
                       "it; the file's own text is kept), mkdocs.yml and a .gitignore for what the build generates (the "
                       "missing lines appended to an existing one). The title is the first "
                       "notebook's first H1, the Qiita tags (1-5) come from the packages the notebooks import, and the "
                       "slug is valid on Qiita and Zenn. The experiments are the notebooks and percent scripts in "
                       "experiments/, else those in the folder itself (experiments_dir = \".\"); an empty folder gets "
                       "experiments/ with an example. The notebooks are only read. No file is replaced without --force.")
    p.add_argument("path", nargs="?", type=Path, default=None, metavar="PATH",
                   help="the folder (created if missing; default: -C, else the current folder)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing mkdocs.yml and [tool.pipeline] tables (the rest of pyproject.toml stays)")
    p.add_argument("--title", help="the article's title (default: the first notebook's first H1)")
    p.add_argument("--tags", nargs="+", metavar="TAG", help="1 to 5 Qiita tags (default: suggested from the imports)")
    p.add_argument("--slug", help="file name of the article on Qiita and Zenn: 12-50 of a-z, 0-9, - and _ "
                   "(default: from the title, else the folder's name)")
    p.add_argument("--qiita-dir", metavar="DIR", help="your qiita-cli folder (the one holding qiita.config.json), "
                   "relative to PATH; '' for build/qiita (default: the nearest one found in the git work tree)")
    p.add_argument("--zenn-dir", metavar="DIR", help="your zenn-cli root (articles/, books/, images/), relative to "
                   "PATH; '' for build/zenn (default: the nearest one found in the git work tree)")
    p.add_argument("--experiments-dir", metavar="DIR",
                   help="the experiments folder, relative to PATH (default: experiments/ if it holds notebooks, "
                   "else . if the folder does)")

    p = sub.add_parser("build", help="execute (cached) + harvest + render + export: the whole article",
                       description="Run every stage and publish the records, the Qiita article, the qiita-cli file and "
                       "the MkDocs page together. A failing experiment stops the build and leaves the previous outputs "
                       "in place (unless --keep-going). When no input or output changed since the last clean build, it ends at once "
                       "and says so (build/.uptodate.json); --force runs every stage.")
    _execution_options(p)
    p.add_argument("--llm", nargs="?", const="on", choices=["on", "required", "off"], default=None,
                   help="draft explanatory prose with an LLM (OpenAI-compatible endpoint from OPENAI_BASE_URL / "
                   "tool.pipeline.llm.base_url, key from OPENAI_API_KEY). 'required' fails the build when drafting "
                   "fails; by default the author's text is used. Default: tool.pipeline.llm.enabled")
    p.add_argument("--redraft", action="store_true", help="ignore cached drafts and ask the LLM again")
    p.add_argument("--all", action="store_true",
                   help="build every article project at or below the folder (-C, default: the current one): each "
                   "folder whose pyproject.toml has [tool.pipeline], as `init` makes them; one summary per article, "
                   "and a failing article does not stop the others")
    p.add_argument("--llm-model", metavar="NAME", help="model name for the LLM pass (default: tool.pipeline.llm.model)")
    p.add_argument("--llm-base-url", metavar="URL", help="OpenAI-compatible endpoint (default: config, then OPENAI_BASE_URL)")

    p = sub.add_parser("execute", help="run experiments in Jupyter kernels (unchanged ones come from the cache)",
                       description="Execute experiments in fresh Jupyter kernels. An experiment whose cache key "
                       "(code cells, kernel, model settings, package versions, data files) is unchanged is not run again; "
                       "notebooks in execution_excludes keep their stored outputs.")
    p.add_argument("names", nargs="*", metavar="NAME", help="experiments to run (names or file names); default: all")
    _execution_options(p)

    p = sub.add_parser("harvest", help="turn executed notebooks into records (JSON) and figure files",
                       description="Write build/records/NAME.json and build/figures/NAME/ from the executed notebooks.")
    p.add_argument("names", nargs="*", metavar="NAME", help="experiments to harvest; default: all")

    sub.add_parser("export", help="render the stored records into the Qiita article, qiita-cli file and MkDocs page",
                   description="Render build/records/ into build/qiita/article.md (paste into Qiita), "
                   "build/qiita/public/<slug>.md (qiita-cli: npx qiita publish <slug>) and site/index.md (the site's page).")

    p = sub.add_parser("preview", help="build, serve the site with live reload, rebuild on every edit (warm kernels)",
                       description="Build the article, serve the site with live reload (`mkdocs serve` or `zensical serve`, as "
                       "tool.pipeline.site.engine says, else the one installed) and "
                       "watch experiments/, templates/, pyproject.toml and the background/summary files. On a change, "
                       "unchanged experiments come from the cache and changed ones re-run from their first changed cell "
                       "in a kernel kept alive between edits; such pages say 'preview: not a clean run'. Outputs go to "
                       "build/preview/ (the page to site/); `build` always runs clean. Ctrl-C stops it.")
    p.add_argument("--port", type=int, default=None, help="port to serve on (default: tool.pipeline.preview.port, 8000)")
    p.add_argument("--host", default=None, help="address to serve on (default: tool.pipeline.preview.host, 127.0.0.1)")
    p.add_argument("--max-kernels", type=int, default=None, metavar="N",
                   help="kernels kept alive between edits (default: tool.pipeline.preview.max_kernels, 2)")

    sub.add_parser("status", help="where each article stands: build, figures, Qiita id, Zenn, what to run next",
                   description="For the article project at the folder (-C, default: the current one), or every one "
                   "below it: its slug and title, whether the build is up to date, figures not yet committed or "
                   "pushed, the qiita-cli file's id, private and ignorePublish, Zenn's published, and the one command "
                   "to run next (\"pull first\" when the remote-tracking branch has commits touching the article's "
                   "files that the work tree lacks). Local git and files only: run `git fetch` to see the remote.")
    sub.add_parser("config", help="print the resolved [tool.pipeline] configuration as JSON",
                   description="Validate [tool.pipeline] and print every setting with its resolved value.")
    return parser


def _jobs(value: str):
    if value == "auto":
        return value
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def _execution_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="re-execute even when the cache holds a result")
    p.add_argument("-j", "--jobs", type=_jobs, default=None, metavar="N",
                   help="run N experiments at once, each in its own kernel, their math libraries sharing the free "
                   "cores; 'auto': one per core, no more than the 'after' chains let run at once nor than the memory "
                   "holds, and it says what it picked (on a gateway: tool.pipeline.gateway_jobs). Experiments that "
                   "name others under 'after' wait for them. Default: tool.pipeline.jobs (1)")
    p.add_argument("--gateway-url", metavar="URL", default=None,
                   help="run the kernels on this Jupyter Kernel Gateway or Enterprise Gateway (default: "
                   "tool.pipeline.gateway_url, then JUPYTER_GATEWAY_URL); the token comes from "
                   "JUPYTER_GATEWAY_AUTH_TOKEN")
    p.add_argument("--prestart", choices=("imports", "kernel", "off"), default=None,
                   help="while an experiment runs, start the next one's kernel (kernel), and import there what its "
                   "first cell imports (imports); off: start each kernel in turn. Default: tool.pipeline.prestart (imports)")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failing experiment")
    p.add_argument("--keep-going", action="store_true", default=None,
                   help="when an experiment fails, go on with the others (build: publish them and mark the failed "
                   "chapter with its error and last good outputs; the exit status is still 1). "
                   "Config: tool.pipeline.keep_going")


def _skip_unused_imports() -> None:
    """Two imports that only cost time here, with jupyter_server installed (the `remote` extra):
    - jsonschema imports every optional format checker it finds, and nbformat imports jsonschema;
      the IRI checker's package (rfc3987-syntax) compiles its grammar on import, about 1 s on every
      command, for a format no notebook schema uses (python-jsonschema/jsonschema#1428);
    - jupytext imports its Jupyter server contents managers, and with them jupyter_server and
      tornado (0.3 s), which reading a notebook never needs.
    Marked absent before anything imports them, both packages take their own "not installed" path."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)
    if "jupytext" not in sys.modules:
        sys.modules.setdefault("jupytext.sync_contentsmanager", None)
        sys.modules.setdefault("jupytext.async_contentsmanager", None)


def main(argv: list[str] | None = None) -> int:
    _skip_unused_imports()
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    from pipeline import storage

    try:
        return _run(args)
    except KeyboardInterrupt:
        if storage.PUBLISHED:
            print("interrupted after the new outputs were published; they are complete", file=sys.stderr)
        else:
            print("interrupted before anything was published; the last good article, site and records are unchanged",
                  file=sys.stderr)
        return 130
    except Exception as exc:
        from pipeline.errors import PipelineError

        if args.debug or not isinstance(exc, PipelineError):
            raise
        from pipeline.text import terminal_text

        print(f"error: {terminal_text(str(exc))}", file=sys.stderr)
        return 1


def _terminate(signum, frame):
    raise KeyboardInterrupt  # a kill gets the same clean stop as Ctrl-C: kernels shut down, staging removed


def _run(args) -> int:
    from pipeline.config import load_config
    from pipeline.progress import Progress

    if args.command == "init":  # before the config: there is none yet
        return _init(args)

    overrides = {}  # options merge into the config before it is validated, so each is resolved once
    if getattr(args, "gateway_url", None):
        overrides["gateway_url"] = args.gateway_url
    if getattr(args, "keep_going", None) is not None:
        overrides["keep_going"] = args.keep_going
    if getattr(args, "prestart", None):
        overrides["prestart"] = args.prestart
    progress = Progress(quiet=args.quiet)
    if getattr(args, "all", False):
        return _build_all(args, overrides, progress)
    if args.command == "status":  # reads only: no lock, nothing written
        from pipeline.publish.status import status_report
        from pipeline.text import terminal_text

        print(terminal_text("\n".join(status_report((args.root or Path.cwd()).resolve()))))
        return 0
    config = load_config(args.root, overrides)
    if args.command == "config":
        print(json.dumps(config.describe(), indent=2, ensure_ascii=False))
        return 0
    if args.command == "preview":  # it takes the build lock for each rebuild, not for the whole session
        from pipeline.preview import preview

        return preview(config.root, host=args.host or config.preview.host, port=args.port or config.preview.port,
                       progress=progress, max_kernels=args.max_kernels)
    from pipeline.publish.lock import locked

    with locked(config.layout, args.command, progress):
        if args.command == "execute":
            from pipeline.run.execute import execute
            from pipeline.summary import counts_line

            summary = execute(config, args.names, force=args.force, fail_fast=args.fail_fast,
                              keep_going=config.keep_going, progress=progress, jobs=args.jobs)
            progress.info(counts_line(summary.statuses.values()))
            return 1 if summary.failures else 0
        if args.command == "harvest":
            from pipeline.article.harvest import harvest

            records = harvest(config, args.names, progress=progress)
            progress.info(f"wrote {len(records)} records to {config.layout.records}")
            return 0
        if args.command == "export":
            from pipeline.article.harvest import load_records
            from pipeline.publish.export import export
            from pipeline.storage import Publication

            records = load_records(config)
            with Publication.of(config.layout, warn=progress.warn) as publication:
                exported = export(records, config, progress, publication)
            _report_export(exported, progress)
            _report_site(config, progress)
            return _refused(exported)
        if args.command == "build":
            summary = _build(config, args, progress)
            return 1 if summary.failures or summary.exports.refused else 0
    raise AssertionError(args.command)


def _build(config, args, progress, report: bool = True):
    from pipeline.build import LlmOptions, build

    mode = args.llm or ("on" if config.llm.enabled else "off")
    llm = LlmOptions(enabled=mode != "off", required=mode == "required", redraft=args.redraft,
                     model=args.llm_model, base_url=args.llm_base_url)
    summary = build(config, force=args.force, fail_fast=args.fail_fast, llm=llm, progress=progress, jobs=args.jobs)
    if report:
        _summary(summary, config, progress)
    else:  # build --all: the closing table has one line per article
        _refused(summary.exports)
    return summary


def _refused(exported) -> int:
    """Name each platform that was not published, and why (on stderr, even with --quiet): 1 if any."""
    from pipeline.text import terminal_text

    for refusal in exported.refused:
        name, _, why = refusal.partition(": ")
        print(f"error: not published on {name} (the other platforms were): {terminal_text(why)}", file=sys.stderr)
    return 1 if exported.refused else 0




def _build_all(args, overrides, progress) -> int:
    """`build --all`: each article project below the folder, in turn, then one line per article."""
    from pipeline.config import load_config
    from pipeline.errors import PipelineError
    from pipeline.progress import Progress
    from pipeline.publish.lock import locked
    from pipeline.text import terminal_text
    from pipeline.workspace import ArticleOutcome, find_projects, summary_lines

    root = (args.root or Path.cwd()).resolve()
    projects = find_projects(root)
    if not projects:
        print(f"error: no article projects at or below {root} (folders whose pyproject.toml has "
              "[tool.pipeline]); make one with: python -m pipeline init FOLDER", file=sys.stderr)
        return 1
    outcomes = []
    for number, project in enumerate(projects, 1):
        progress.info(f"== [{number}/{len(projects)}] {os.path.relpath(project, root)} ==")
        article = Progress(quiet=args.quiet)  # each article's summary repeats its own warnings only
        try:
            config = load_config(project, overrides)
            with locked(config.layout, "build", article):
                outcomes.append(ArticleOutcome(project, summary=_build(config, args, article, report=False), config=config))
        except Exception as exc:  # any failure is this article's: the others are built all the same
            if args.debug:
                raise
            message = str(exc) if isinstance(exc, PipelineError) else (
                f"unexpected {type(exc).__name__}: {exc} (a bug in ml-article-pipeline: run `python -m pipeline -C "
                f"{os.path.relpath(project)} build --debug` for the traceback, and report it)")
            print(f"error: {terminal_text(message)}", file=sys.stderr)
            outcomes.append(ArticleOutcome(project, error=message))
    progress.info("")
    for line in summary_lines(outcomes, root):
        progress.info(line)
    from pipeline.publish.status import next_for_all

    advice = next_for_all([o.config for o in outcomes if o.config is not None])
    if advice:
        progress.info(advice)
    return 0 if all(o.ok for o in outcomes) else 1


def _init(args) -> int:
    from pipeline.scaffold import init_project, next_steps
    from pipeline.text import terminal_text

    folder = args.path if args.path is not None else args.root or Path.cwd()
    result = init_project(folder, force=args.force, experiments_dir=args.experiments_dir, title=args.title,
                          tags=args.tags, slug=args.slug, qiita_dir=args.qiita_dir, zenn_dir=args.zenn_dir)
    found = ", ".join(p.name for p in result.experiments)
    lines = [f"set up {result.folder}", f"  experiments ({result.experiments_dir}): {found}",
             f"  title: {result.title}", f"  tags:  {', '.join(result.tags)}", f"  slug:  {result.slug}"]
    lines += [f"  wrote {path.relative_to(result.folder).as_posix()}" for path in result.written]
    lines += [f"  kept  {s.path.relative_to(result.folder).as_posix()}: {s.reason}" for s in result.skipped]
    lines += [f"  note: {note}" for note in result.notes] + ["next steps:"] + next_steps(result)
    print(terminal_text("\n".join(lines)))  # names and titles from notebooks: no raw control sequence
    return 0


def _summary(summary, config, progress) -> None:
    """The end of a build: one line of counts, LLM drafts, warnings, where things are, failures."""
    from pipeline.summary import counts_line

    if summary.up_to_date:
        progress.info(f"build finished: up to date, nothing changed since the last build ({len(summary.outcomes)} "
                      f"experiments, {summary.figures} figures, {len(summary.warnings)} warnings); nothing was run "
                      "or written (--force runs every stage)")
    else:
        progress.info(f"build finished: {counts_line(summary.outcomes.values())}, {summary.figures} figures, "
                      f"{len(summary.warnings)} warnings{' (above)' if summary.warnings else ''}")
    if summary.drafts is not None:
        from pipeline.llm.report import answered_line, draft_summary_lines

        d = summary.drafts
        progress.info(f"  {answered_line(d)}")
        for rejection in d.rejected:
            progress.info(f"    rejected {rejection.section}: {rejection.reason}; the author's text is used")
        for line in draft_summary_lines(d):
            progress.info(f"    {line}")
    if summary.up_to_date:  # a full build printed each warning as it came; this one printed none yet
        for warning in summary.warnings:
            progress.info(f"  warning: {warning}")
    _report_export(summary.exports, progress)
    _report_site(config, progress)
    if summary.failures:
        progress.info("")
        progress.info(f"published with {len(summary.failures)} failed chapter(s), marked in the article (--keep-going):")
        for failure in summary.failures:
            progress.info(failure.describe())
    _refused(summary.exports)
    from pipeline.publish.status import next_advice

    if advice := next_advice(config):
        progress.info(advice)


def _report_site(config, progress) -> None:
    from pipeline.publish.site import EDITABLE, site_config, site_warnings

    site = site_config(config)
    if site.default:
        progress.info(f"  site: no mkdocs.yml here, so the default configuration was written to {site.path} "
                      f"(mkdocs build -f {site.path}; Zensical needs a mkdocs.yml beside the site folder); {EDITABLE}")
    for warning in site_warnings(site):
        progress.info(f"  warning: {warning}")


def _report_export(exported, progress) -> None:
    from pipeline.publish.status import export_lines

    for line in export_lines(exported):
        progress.info(line)
