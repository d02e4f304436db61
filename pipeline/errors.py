"""The package's exceptions: one root, subclasses where a caller can act.

Every message names the thing that is wrong and what to do about it; the CLI
prints ``str(error)`` as is (see ``cli.main``).
"""

from __future__ import annotations


class PipelineError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(PipelineError):
    """``[tool.pipeline]`` is invalid; the message lists every problem found."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: invalid [tool.pipeline] configuration:\n{lines}")


class ExperimentNotFound(PipelineError):
    """A name given on the command line matches no experiment file."""


class ExperimentFormatError(PipelineError):
    """An experiment file could not be read as a Jupytext percent script."""


class ExecutionFailed(PipelineError):
    """One or more experiments failed; each failure's report is kept in ``failures``."""

    HOW_TO_GO_ON = (
        "How to go on: fix the cell; or, if the error is expected, tag the cell raises-exception "
        "(it may fail), or skip-execution (it is shown but not run), or list the experiment in "
        "tool.pipeline.allow_errors (its errors are shown and the run goes on); to publish a notebook's stored outputs "
        "instead of running it here, list it in tool.pipeline.execution_excludes; to publish the other "
        "chapters anyway, run build --keep-going. The last good article is unchanged."
    )

    def __init__(self, failures: list, summary=None):
        self.failures = list(failures)
        self.summary = summary
        body = "\n\n".join(f.describe() for f in self.failures)
        n = len(self.failures)
        super().__init__(f"{n} experiment{'s' if n != 1 else ''} failed:\n\n{body}\n\n{self.HOW_TO_GO_ON}")


class HarvestError(PipelineError):
    """An executed notebook, a record or a figure folder is missing or unreadable, or an
    output is malformed; the message names the file (and cell) and what to run."""


class ModelLoadError(PipelineError):
    """The model named in the configuration could not be loaded."""


class BuildLocked(PipelineError):
    """Another command holds the build folder."""


class OutputPathError(PipelineError):
    """An output folder is outside the project, or holds files the pipeline did not write."""



class ExportError(PipelineError):
    """An article breaks a platform's hard limit (Zenn's length, slug, front matter): nothing is published."""
