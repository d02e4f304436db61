"""The browser check: every hostile case's MkDocs page, its Qiita Markdown and its SVG
files, loaded in Debian's chromium (through playwright), counting the injected scripts
that ran; control pages whose scripts must be seen make a zero mean something."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from helpers import served

from pipeline.publish.site import MATHJAX

from .harness import Result, tail
from .project import REPO, SECRETS, read_text


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def browser_problem() -> str | None:
    import importlib.util

    if not chromium():
        return "needs Debian's chromium (apt-get install chromium)"
    for module in ("playwright", "mkdocs", "material"):
        if importlib.util.find_spec(module) is None:
            return f"needs {module}: run `.setup/install test`"
    return None


_PROBE = """async () => {
  const dangerous = /^\\s*(javascript|vbscript|data):/i;
  for (const a of document.querySelectorAll('a, area')) {
    const href = a.getAttribute('href') || a.getAttribute('xlink:href')
      || a.getAttributeNS('http://www.w3.org/1999/xlink', 'href') || '';
    if (dangerous.test(href)) {
      try { a.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true})); } catch (e) {}
    }
  }
  for (const el of document.querySelectorAll('*')) {
    for (const attr of Array.from(el.attributes)) {
      if (/^on/i.test(attr.name)) {
        try { el.dispatchEvent(new Event(attr.name.slice(2).toLowerCase())); } catch (e) {}
      }
    }
  }
  for (const form of document.querySelectorAll('form')) { try { form.requestSubmit(); } catch (e) {} }
  await new Promise(r => setTimeout(r, 250));
  let flags = Object.keys(window).filter(k => k.startsWith('__pwned'));
  for (const frame of document.querySelectorAll('iframe')) {
    try { flags = flags.concat(Object.keys(frame.contentWindow).filter(k => k.startsWith('__pwned'))); } catch (e) {}
  }
  return {flags: flags, title: document.title || ''};
}"""


def browser_check(results: list[Result], workdir: Path) -> str | None:
    """Load every hostile case's outputs in chromium and count the injected scripts that ran.
    Returns why it could not run, or None."""
    problem = browser_problem()
    if problem:
        return problem
    hostile = [r for r in results if r.hostile and r.root is not None]
    if not hostile:
        return None
    batch = Path(workdir) / "browser"
    if batch.exists():
        shutil.rmtree(batch)
    docs = batch / "docs"
    docs.mkdir(parents=True)
    mathjax = [r.root / "site" / MATHJAX for r in hostile if (r.root / "site" / MATHJAX).is_dir()]
    if mathjax:  # MathJax and its settings, as a build writes them into its site folder
        shutil.copytree(mathjax[0], docs / MATHJAX)
    links = "".join(f"- [{r.name}]({r.name}/index.md)\n" for r in hostile)
    (docs / "index.md").write_text("# Hostile outputs\n\n" + links, encoding="utf-8")
    pages: dict[str, list[str]] = {}
    from markdown_it import MarkdownIt

    qiita_html = MarkdownIt("commonmark", {"html": True}).enable("table")
    for result in hostile:
        site = result.root / "site"
        target = docs / result.name
        pages[result.name] = []
        if (site / "index.md").is_file():
            target.mkdir()
            shutil.copy(site / "index.md", target / "index.md")
            if (site / "figures").is_dir():
                shutil.copytree(site / "figures", target / "figures")
            pages[result.name].append(f"html/{result.name}/")
        article = read_text(result.root / "build/qiita/article.md")
        if article:
            page = batch / "qiita" / f"{result.name}.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text("<!doctype html><meta charset=utf-8><title>qiita</title><body>"
                            + qiita_html.render(article) + "</body>", encoding="utf-8")
            pages[result.name].append(f"qiita/{result.name}.html")
        svgs = sorted({p for folder in ("build/figures", "site/figures", "build/qiita/figures")
                       for p in (result.root / folder).rglob("*.svg")})
        for number, svg in enumerate(svgs):
            copy = batch / "svg" / result.name / f"{number}.svg"
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(svg, copy)
            pages[result.name].append(f"svg/{result.name}/{number}.svg")
        result.scripts = []
    control = batch / "control"
    control.mkdir()
    (control / "index.html").write_text(CONTROL_HTML, encoding="utf-8")
    (control / "0.svg").write_text(CONTROL_SVG, encoding="utf-8")
    config = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    config = re.sub(r"(?m)^docs_dir:.*$", "docs_dir: docs", config)
    config = re.sub(r"(?m)^site_dir:.*$", "site_dir: html", config)
    (batch / "mkdocs.yml").write_text(config, encoding="utf-8")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    for name in SECRETS:
        env.pop(name, None)
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q"], cwd=batch, env=env, capture_output=True,
                           text=True, timeout=300, check=False)
    if built.returncode != 0:
        for result in hostile:
            result.problems.append(f"mkdocs build of the hostile pages failed: {tail(built.stderr)}")
    started = time.monotonic()
    control_result = Result("control", "browser", 0.0, None, scripts=[])
    _load_pages(batch, {**pages, "control": ["control/index.html", "control/0.svg"]},
                {**{r.name: r for r in hostile}, "control": control_result})
    seen = {item.split(": ", 1)[1] for item in control_result.scripts or []}
    missing = sorted(set(CONTROL_FLAGS) - {s.split(" ", 1)[0] for s in seen})
    for result in hostile:
        result.notes.append(f"browser: {len(pages[result.name])} pages checked")
        if missing or control_result.problems:
            result.problems.append(f"the browser probe missed scripts on its control pages ({missing}, "
                                   f"{control_result.problems}): its zero cannot be trusted")
    hostile[0].notes.append(f"browser check of all hostile pages took {time.monotonic() - started:.1f}s")
    return None


#: a control page and SVG whose scripts must be seen, so that a zero means something
CONTROL_FLAGS = ("window.__pwned_control_script", "window.__pwned_control_img", "window.__pwned_control_link",
                 "window.__pwned_control_svg")
CONTROL_HTML = ("<!doctype html><meta charset=utf-8><title>control</title>"
                "<script>window.__pwned_control_script=1</script><img src=x onerror=\"window.__pwned_control_img=1\">"
                "<a href=\"javascript:window.__pwned_control_link=1\">x</a>")
CONTROL_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="window.__pwned_control_svg=1">'
               '<rect width="5" height="5"/></svg>')


def _load_pages(batch: Path, pages: dict[str, list[str]], results: dict[str, Result]) -> None:
    from playwright.sync_api import sync_playwright

    with served(batch) as origin, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        try:
            context = browser.new_context()
            context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(origin)
                          else route.abort())
            for name, urls in pages.items():
                for url in urls:
                    page = context.new_page()
                    page.on("dialog", lambda dialog: dialog.dismiss())
                    try:
                        response = page.goto(origin + url, wait_until="load", timeout=30_000)
                        if response is None or response.status != 200:
                            results[name].problems.append(f"browser: {url}: HTTP "
                                                          f"{response.status if response else 'no response'}")
                            continue
                        page.wait_for_timeout(150)
                        seen = page.evaluate(_PROBE)
                    except Exception as exc:  # noqa: BLE001 - playwright raises many error types; reported
                        results[name].problems.append(f"browser: {url}: {type(exc).__name__}: {exc}")
                        continue
                    finally:
                        page.close()
                    results[name].scripts += [f"{url}: window.{flag} set" for flag in sorted(set(seen["flags"]))]
                    if "PWNED" in seen["title"]:
                        results[name].scripts.append(f"{url}: document.title changed to {seen['title'][:60]!r}")
            context.close()
        finally:
            browser.close()
