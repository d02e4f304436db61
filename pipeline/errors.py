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

    def __init__(self, failures: list, summary=None):
        self.failures = list(failures)
        self.summary = summary
        body = "\n\n".join(f.describe() for f in self.failures)
        n = len(self.failures)
        super().__init__(f"{n} experiment{'s' if n != 1 else ''} failed:\n\n{body}")


class HarvestError(PipelineError):
    """An executed notebook is missing or unreadable."""


class ModelLoadError(PipelineError):
    """The model named in the configuration could not be loaded."""
