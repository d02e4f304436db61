"""The article's site in a real browser, whichever engine built it (no pytest, no fixtures): what
tests/test_site.py asserts on and tests/benchmarks/bench_site.py prints for a built seed study.

- ``build_site``: the real ``mkdocs build --strict`` or ``zensical build --strict`` of a project's
  mkdocs.yml, into build/site-ENGINE/; returns that folder and the seconds it took.
- ``look``: the page in chromium, served on a local port with every other host refused: formulas
  (arithmatex elements, those MathJax typeset, TeX errors, TeX left raw in the prose), figures, admonitions,
  code copy buttons (one clicked, the clipboard read back), in-page links and the headings they
  reach, every URL asked for and every failed response.
- ``search``: words typed into the site's own search box, as a reader types them, and the results
  listed (link and text) for each.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from conftest import CHROMIUM
from helpers import served

#: chromium with no way out: any host but loopback goes to a closed proxy port
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--proxy-server=http://127.0.0.1:9"]
#: TeX that MathJax would have replaced, had it typeset the formula
RAW_TEX = ("\\(", "\\)", "\\[", "\\]", "$$", "\\frac", "\\sum", "\\text{")


def build_site(engine: str, project: Path) -> tuple[Path, float]:
    """Build *project*'s mkdocs.yml with *engine* into build/site-ENGINE/ (a copy of the configuration
    beside the original with that site_dir: Zensical wants it inside the project); the folder and the seconds."""
    from pipeline.publish.site import SiteConfig, build_command

    target = project / "build" / f"site-{engine}"
    text = re.sub(r"(?m)^site_dir:.*$", f"site_dir: build/site-{engine}", (project / "mkdocs.yml").read_text(encoding="utf-8"))
    copy = project / f".mkdocs-{engine}.yml"
    copy.write_text(text, encoding="utf-8")
    if target.exists():
        shutil.rmtree(target)
    started = time.perf_counter()
    done = subprocess.run(build_command(engine, SiteConfig(copy, default=False)), cwd=project, capture_output=True,
                          text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300, check=False)
    seconds = time.perf_counter() - started
    copy.unlink()
    if done.returncode != 0 or not (target / "index.html").is_file():
        raise AssertionError(f"{engine} build failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return target, seconds


_LOOK = """async () => {
  if (window.MathJax && MathJax.startup) await MathJax.startup.promise;  // absent: nothing was typeset
  await document.fonts.ready;
  const article = document.querySelector("article");
  const ids = new Set(Array.from(document.querySelectorAll("[id]"), e => e.id));
  const box = e => { const s = getComputedStyle(e); return [s.borderLeftColor, e.getBoundingClientRect().height > 0]; };
  return {
    formulas: article.querySelectorAll(".arithmatex").length,
    typeset: article.querySelectorAll(".arithmatex > mjx-container").length,
    tex_errors: article.querySelectorAll("mjx-merror").length,
    prose: (clone => { clone.querySelectorAll("pre, code, mjx-container, script, style").forEach(e => e.remove());
                       return clone.textContent; })(article.cloneNode(true)),
    images: Array.from(article.querySelectorAll("img"), i => [i.getAttribute("src"), i.complete && i.naturalWidth > 0]),
    admonitions: Array.from(article.querySelectorAll(".admonition"), a => [a.className, ...box(a)]),
    headings: Array.from(article.querySelectorAll("h2[id], h3[id]"), h => [h.id, h.textContent.replace(/[¶#]$/, "").trim()]),
    links: Array.from(document.querySelectorAll('a[href^="#"]'), a => decodeURIComponent(a.getAttribute("href").slice(1)))
      .filter(id => id).map(id => [id, ids.has(id)]),
    copy_buttons: article.querySelectorAll('button[data-md-type="copy"], button.md-clipboard').length,
  };
}"""


def _page(browser, origin: str, requests: list[str], failures: list[str]):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(origin) else route.abort())
    page.on("request", lambda request: requests.append(request.url))
    page.on("response", lambda response: failures.append(f"{response.status} {response.url}")
            if response.status >= 400 else None)
    page.on("requestfailed", lambda request: failures.append(f"failed {request.url}"))
    response = page.goto(origin, wait_until="load")
    assert response is not None and response.status == 200, response and response.status
    try:
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
    except PlaywrightTimeout:
        pass  # no MathJax on the page: the formulas stay raw, which the checks report
    return page


def look(site: Path) -> dict:
    """What a reader of *site* (a built site folder) sees on its page; see the module docstring."""
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    failures: list[str] = []
    with served(site) as origin, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = _page(browser, origin, requests, failures)
            seen = page.evaluate(_LOOK)
            seen["copied"] = seen["code"] = None
            button = page.locator('article button[data-md-type="copy"], article button.md-clipboard').first
            if seen["copy_buttons"]:
                seen["code"] = button.evaluate("b => document.querySelector(b.dataset.clipboardTarget).innerText")
                button.click(force=True)  # shown on hover
                seen["copied"] = page.evaluate("() => navigator.clipboard.readText()")
        finally:
            browser.close()
    prose = seen.pop("prose")
    seen["raw_tex"] = [tex for tex in RAW_TEX if tex in prose]
    return {**seen, "origin": origin, "requests": requests, "failures": failures}


def search(site: Path, words: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Each of *words* typed into *site*'s search box: the results, as (link path and anchor, text)."""
    from playwright.sync_api import sync_playwright

    found: dict[str, list[tuple[str, str]]] = {}
    requests: list[str] = []
    failures: list[str] = []
    with served(site) as origin, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            for word in words:
                page = _page(browser, origin, requests, failures)
                found[word] = [(href.removeprefix(origin), text) for href, text in _ask(page, word)]
                page.context.close()
        finally:
            browser.close()
    assert not failures and all(url.startswith(origin) for url in requests), (failures, requests)
    return found


def _ask(page, word: str) -> list[tuple[str, str]]:
    """Type *word* into the search box of Material's page or of Zensical's, and read the results once
    the search says how many it found."""
    if page.locator(".md-search__button").count():  # Zensical: a button opens its search dialog
        page.locator(".md-search__button").click()
        query, status, results = "dialog input[role=combobox]", "dialog [role=status]", "dialog a[role=option]"
    else:  # Material for MkDocs: the search box in the header
        query, status, results = "input.md-search__input", ".md-search-result__meta", ".md-search-result__link"
    box = page.locator(query)
    box.click()
    placeholder = page.locator(status).inner_text().strip() if page.locator(status).count() else ""
    box.press_sequentially(word)
    box.press("End")  # Material searches on key-up
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        said = page.locator(status).inner_text().strip() if page.locator(status).count() else ""
        if said and said != placeholder and re.search(r"\d|何も|[Nn]o ", said):
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the search for {word!r} never said how many results it found")
    return [(a.get_attribute("href") or "", a.text_content() or "") for a in page.locator(results).all()]  # folded ones too


if __name__ == "__main__":  # python tests/site_checks.py SITE_FOLDER [WORD ...]
    sys.path.insert(0, str(Path(__file__).parent))
    print(look(Path(sys.argv[1])))
    print(search(Path(sys.argv[1]), sys.argv[2:]))
