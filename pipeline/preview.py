"""``python -m pipeline preview``: the author's loop, edit -> page, with live reload.

- The site's engine serves the site and reloads open pages when ``site/`` changes: MkDocs' own
  server (``mkdocs serve``, in this process) or ``zensical serve`` (a child process), as
  ``[tool.pipeline.site] engine`` says, else the one installed (``pipeline.publish.site.engine``);
  this module does not serve anything itself.
- A watcher on the inputs (``experiments/``, ``templates/``, ``pyproject.toml``,
  the background and summary files, declared data files) rebuilds what changed in
  a background thread: unchanged experiments come from the cache, changed ones run
  in warm kernels (``pipeline.run.warm``) from their first changed cell. Records and
  exports go to ``build/preview/``; only the page (``site/``) is shared with
  ``build``, and it says "preview: not a clean run" when a warm kernel produced it.
- A failure shows on the page (file, cell, message, in a banner above the last good
  content) and on the terminal.
- Ctrl-C stops the server, then the kernels (a cell still running is stopped),
  then waits for the rebuild thread; a rebuild that was stopped publishes nothing.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from pipeline.config import Config, load_config
from pipeline.errors import PipelineError
from pipeline.progress import Progress
from pipeline.run.warm import Stopped

DEBOUNCE = 0.3  # seconds of quiet after the last file event before a rebuild starts


class Previewer:
    """Rebuilds the preview on demand, one rebuild at a time."""

    def __init__(self, root: Path, progress: Progress, max_kernels: int | None = None):
        from pipeline.run.kernel_env import secret_values
        from pipeline.run.warm import WarmKernels

        self.root = root
        self.progress = progress
        self.config = self._load()
        self.warm = WarmKernels(self.config, secret_values(), max_kernels or self.config.preview.max_kernels)
        self.stopping = threading.Event()
        self.wanted = threading.Event()
        self.last_good = ""  # the last page that built without an error
        self.rebuilds = 0

    def _load(self) -> Config:
        """The configuration, with kernels here: warm kernels are local, whatever gateway is set."""
        import dataclasses

        config = load_config(self.root)
        if config.gateway_url:
            self.progress.info("preview: kernels run here (the gateway is for build and execute)")
        return dataclasses.replace(config, gateway_url="")

    # one rebuild -------------------------------------------------------------
    def rebuild(self) -> bool:
        """Run the pipeline into the preview layout; True when it published the page without an error."""
        from pipeline.publish.lock import locked

        started = time.monotonic()
        try:
            self.config = self._load()
            self.warm.config = self.config
            layout = self.config.layout
            with locked(layout, "preview", self.progress):
                page = self._publish(layout.for_preview())
        except Stopped:
            return False
        except PipelineError as exc:
            self.progress.warn(f"preview: {exc}")
            self._show_error(str(exc))
            return False
        self.last_good = page
        self.rebuilds += 1
        self.progress.info(f"preview: page updated in {time.monotonic() - started:.1f}s")
        return True

    def _publish(self, layout) -> str:
        from pipeline.article.harvest import harvest
        from pipeline.publish.export import export
        from pipeline.run.execute import execute
        from pipeline.storage import Publication

        config = self.config
        summary = execute(config, keep_going=True, progress=self.progress, layout=layout, runner=self.warm.run)
        if self.stopping.is_set():
            raise Stopped
        with Publication.of(layout, warn=self.progress.warn) as publication:
            records = harvest(config, progress=self.progress, layout=layout, publication=publication)
            warm = any(r.execution.mode == "warm" for r in records)
            exported = export(records, config, self.progress, publication, layout=layout, preview=warm)
            if self.stopping.is_set():
                raise Stopped  # leaving the block with an error discards everything staged
        for failure in summary.failures:
            self.progress.warn(f"preview: {failure.describe()}")
        return exported.site_page.read_text(encoding="utf-8")

    def _show_error(self, message: str) -> None:
        """The error above the last good content, so the open page shows both. Only on a page the
        pipeline wrote (never over a user's own ``index.md``), and holding the build lock."""
        from pipeline.layout import GENERATED_LINE, unowned
        from pipeline.markdown.scanner import fence_for, visible_controls
        from pipeline.publish.export import record_manifest
        from pipeline.publish.lock import BuildLock
        from pipeline.storage import Publication

        text = visible_controls(message)
        fence = fence_for(text)
        banner = (f'!!! danger "preview: the last rebuild failed"\n\n    {fence}text\n'
                  + "\n".join("    " + line for line in text.splitlines()) + f"\n    {fence}\n\n")
        lines = (self.last_good or f"{GENERATED_LINE}\n# preview\n").split("\n")
        at = next((i + 1 for i, line in enumerate(lines) if line.startswith("# ")), 1)
        text_with_banner = "\n".join(lines[:at] + ["", banner] + lines[at:])
        layout = self.config.layout
        page = layout.site / "index.md"
        with BuildLock(layout.lock, command="python -m pipeline preview", notify=self.progress.info):
            if unowned([page], layout):
                return  # the refusal itself is the error shown on the terminal
            with Publication.of(layout, warn=self.progress.warn) as publication:
                publication.write(page, text_with_banner)
                record_manifest([page], layout, publication)

    # the watch loop ------------------------------------------------------------
    def watched(self) -> list[Path]:
        config = self.config
        paths = [config.experiments_dir, config.layout.templates, config.root / "pyproject.toml"]
        for relative in (config.article.background, config.article.summary):
            if relative:
                paths.append(config.root / relative)
        return [p for p in dict.fromkeys(paths) if p.exists()]

    def is_input(self, path: Path, watched: list[Path]) -> bool:
        """Whether a file event concerns an input (not an editor's swap file, a cache, or an output:
        with experiments_dir = "." build/, site/ and Zensical's .cache/ lie inside a watched folder)."""
        if path in watched and not path.is_dir():
            return True  # a file named in the config (background, summary), wherever it lies
        try:
            parts = path.relative_to(self.config.root).parts
        except ValueError:
            parts = (path.name,)
        # hidden files and folders: an editor's, Jupyter's checkpoints, Zensical's .cache/ in the project folder
        if any(part.startswith(".") for part in parts) or path.name.endswith("~") or "__pycache__" in parts:
            return False
        if any(p in path.parents for p in (self.config.build_dir, self.config.site_dir)):
            return False
        return any(path == p or (p.is_dir() and p in path.parents) for p in watched)

    def worker(self) -> None:
        while not self.stopping.is_set():
            if not self.wanted.wait(timeout=0.2):
                continue
            while self.wanted.is_set() and not self.stopping.is_set():  # debounce a burst of events
                self.wanted.clear()
                time.sleep(DEBOUNCE)
            if not self.stopping.is_set():
                self.progress.info("preview: inputs changed, rebuilding")
                try:
                    self.rebuild()
                except Exception as exc:  # a bug must not kill the loop: report it and keep serving
                    self.progress.warn(f"preview: rebuild failed unexpectedly ({type(exc).__name__}: {exc})")

    def stop(self) -> None:
        """Ctrl-C: the rebuild in progress (if any) ends without publishing, its kernels killed."""
        self.stopping.set()
        self.warm.stop()


def preview(root: Path, host: str = "127.0.0.1", port: int = 8000, progress: Progress | None = None,
            max_kernels: int | None = None) -> int:
    import watchdog.events
    import watchdog.observers

    from pipeline.publish.site import EDITABLE, engine, site_config, site_warnings

    progress = progress or Progress()
    previewer = Previewer(root, progress, max_kernels)
    config: Config = previewer.config
    _check_port(host, port)  # before the first build, not after it
    site = site_config(config)
    name = engine(config, site)  # a missing engine, too
    if site.default:
        progress.info(f"preview: no mkdocs.yml in {config.root}: serving the default site configuration "
                      f"({site.path}); {EDITABLE}")
    for warning in site_warnings(site):
        progress.warn(f"preview: {warning}")
    previewer.rebuild()

    watched = previewer.watched()

    class Changed(watchdog.events.FileSystemEventHandler):
        def on_any_event(self, event):
            if event.event_type in ("opened", "closed_no_write"):
                return  # reading a file (the rebuild itself does) changes nothing
            if not event.is_directory and any(previewer.is_input(Path(str(p)), watched)
                                              for p in (event.src_path, getattr(event, "dest_path", "")) if p):
                previewer.wanted.set()

    observer = watchdog.observers.Observer()
    for folder in dict.fromkeys(p if p.is_dir() else p.parent for p in watched):
        observer.schedule(Changed(), str(folder), recursive=folder in watched)
    thread = threading.Thread(target=previewer.worker, name="pipeline-preview", daemon=True)
    observer.start()
    thread.start()
    progress.info(f"preview: serving http://{host}:{port}/ with {name}; watching "
                  f"{', '.join(str(p.relative_to(config.root)) for p in previewer.watched())}; Ctrl-C stops")
    try:
        _serve(name, site.path, host, port)
    except OSError as exc:  # taken in the moment since _check_port
        raise PipelineError(f"preview: cannot serve on {host}:{port}: {exc.strerror or exc}; "
                            "choose another with --port") from None
    finally:
        observer.stop()
        previewer.stop()
        thread.join(timeout=60)
        previewer.warm.close()
        observer.join(timeout=5)
        progress.info(f"preview: stopped ({previewer.rebuilds} rebuilds, {previewer.warm.reruns} warm re-runs, "
                      f"{previewer.warm.restarts} kernel starts)")
    return 0


def _serve(name: str, mkdocs_yml: Path, host: str, port: int) -> None:
    """Serve the site with live reload until Ctrl-C: MkDocs' server in this process, or ``zensical serve``
    as a child process (stopped with Ctrl-C too, also when only this process got it)."""
    if name == "mkdocs":
        from mkdocs.commands.serve import serve

        serve(config_file=str(mkdocs_yml), dev_addr=f"{host}:{port}", livereload=True)
        return
    import signal
    import subprocess
    import sys

    server = subprocess.Popen([sys.executable, "-m", "zensical", "serve", "-f", str(mkdocs_yml), "-a", f"{host}:{port}"],
                              cwd=mkdocs_yml.parent)
    try:
        code = server.wait()
    except KeyboardInterrupt:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        return
    finally:
        if server.poll() is None:  # an error in this process: the server must not outlive it
            server.kill()
            server.wait()
    raise PipelineError(f"preview: zensical serve stopped on its own (exit status {code}); its messages are above")


def _check_port(host: str, port: int) -> None:
    """A clear error when the address is taken (another preview, mkdocs serve) or not ours to use."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise PipelineError(f"preview: cannot serve on {host}:{port}: {exc.strerror or exc} (another preview or "
                            "mkdocs serve?); choose another with --port, or stop the other server") from None
