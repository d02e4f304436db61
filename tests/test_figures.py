"""SVG figures on every platform: kept on the MkDocs site, drawn as PNG for Zenn and Qiita (real kernels)."""

from __future__ import annotations

import re
import shutil

import pytest
from helpers import png

from pipeline.build import build
from pipeline.markdown.dialects import check_zenn
from pipeline.markdown.svg import svg_to_png

SVG_EXPERIMENT = '''
# %% [markdown]
# # 図のいろいろ

# %%
from IPython.display import SVG, display
display(SVG('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60">'
            '<rect width="120" height="60" fill="#336699"/><circle cx="30" cy="30" r="20" fill="red"/></svg>'))

# %%
import matplotlib
matplotlib.use("module://matplotlib_inline.backend_inline")
from matplotlib_inline.backend_inline import set_matplotlib_formats
import matplotlib.pyplot as plt
set_matplotlib_formats("svg")
plt.plot([1, 2, 3], [1, 4, 9])
plt.show()
'''


def _images(markdown: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)", markdown)


def test_svg_figures_are_png_on_zenn_and_qiita_and_svg_on_the_site(project, quiet):
    project.add("01_svg", SVG_EXPERIMENT)
    config = project.config()
    summary = build(config, progress=quiet)
    zenn = summary.exports.zenn.read_text(encoding="utf-8")
    qiita = summary.exports.article.read_text(encoding="utf-8")
    site = summary.exports.site_page.read_text(encoding="utf-8")

    zenn_images, qiita_images, site_images = _images(zenn), _images(qiita), _images(site)
    assert len(zenn_images) == len(qiita_images) == len(site_images) == 2
    assert all(src.endswith(".svg.png") for src in zenn_images + qiita_images), (zenn_images, qiita_images)
    assert all(src.endswith(".svg") for src in site_images), site_images
    assert not [p for p in check_zenn(zenn) if "image" in p]
    # the files the articles link exist, and are real PNG drawings (Zenn's images/ holds no SVG)
    images = config.layout.zenn / "images"
    assert not list(images.rglob("*.svg"))
    for src in zenn_images:
        data = (config.layout.zenn / src.lstrip("/")).read_bytes()
        assert data.startswith(b"\x89PNG") and int.from_bytes(data[16:20], "big") >= 120
    for src in site_images:
        assert (config.layout.site / src).read_bytes().lstrip().startswith(b"<?xml")


def test_svg_to_png_draws_at_twice_the_size():
    png = svg_to_png(b'<svg xmlns="http://www.w3.org/2000/svg" width="50" height="20"><rect width="50" height="20"/></svg>')
    assert png.startswith(b"\x89PNG")
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (100, 40)


AUTHOR_IMAGES = '''
# %% [markdown]
# # 図の置き場所
#
# ![流れ](images/flow.png) ![詳細](images/sub/detail.png) ![共有](../assets/logo.png)
# ![外](../../outside.png) ![同名](attachments/cell01-x.png)

# %%
print("ok")
'''


@pytest.mark.parametrize("where", ["experiments", "."])
def test_author_images_keep_their_path_in_the_project_once(project, quiet, where):
    """An image the author's Markdown shows is published under its path in the project, its
    folders once (``images/flow.png`` became ``images/images/flow.png``), for notebooks in
    experiments/ and at the project root; one outside the project stays refused."""
    folder = project.root / where
    source = AUTHOR_IMAGES.replace("../../outside.png", "../outside.png") if where == "." else AUTHOR_IMAGES
    folder.mkdir(exist_ok=True)
    (folder / "01_fig.py").write_text(source.lstrip("\n"), encoding="utf-8")
    if where == ".":
        shutil.rmtree(project.root / "experiments")
        project.write_config('experiments_dir = "."\n')
    files = {"images/flow.png": (1, 0, 0), "images/sub/detail.png": (2, 0, 0), "attachments/cell01-x.png": (3, 0, 0)}
    for name, rgb in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(png(rgb=rgb))
    if where != ".":
        (project.root / "assets").mkdir()
        (project.root / "assets/logo.png").write_bytes(png(rgb=(4, 0, 0)))
    (project.root.parent / "outside.png").write_bytes(png(rgb=(5, 0, 0)))
    config = project.config()
    summary = build(config, progress=quiet)

    prefix = "" if where == "." else "experiments/"
    expected = {f"{prefix}images/flow.png": (1, 0, 0), f"{prefix}images/sub/detail.png": (2, 0, 0),
                f"_/{prefix}attachments/cell01-x.png" if where == "." else f"{prefix}attachments/cell01-x.png": (3, 0, 0)}
    if where != ".":
        expected["assets/logo.png"] = (4, 0, 0)
    site = summary.exports.site_page.read_text(encoding="utf-8")
    shown = sorted(src.removeprefix("figures/01_fig/") for src in _images(site))
    assert shown == sorted(expected), shown
    for path, rgb in expected.items():
        assert (config.layout.build / "figures/01_fig" / path).read_bytes() == png(rgb=rgb), path
    assert "images/images" not in site and "outside" not in "".join(_images(site))
    assert any("outside.png" in w and "outside the project" in w for w in quiet.warnings), quiet.warnings
    for src in _images(summary.exports.zenn.read_text(encoding="utf-8")):
        assert (config.layout.zenn / src.lstrip("/")).is_file(), src
