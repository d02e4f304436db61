"""pipeline.markdown.svg: real matplotlib figures survive, hostile SVG loses the hostile part or is refused."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest

from pipeline.markdown.svg import SVG, XLINK, sanitize_svg

NS = {"svg": SVG}


def _matplotlib_svg(fonttype: str = "path", date: str = "2026-01-01") -> bytes:
    pytest.importorskip("matplotlib")
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 3))
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.plot([1, 2, 3], [1, 4, 9], label="squares")
    axes.set_title("Loss by step")
    axes.legend()
    buffer = io.BytesIO()
    with rc_context({"svg.fonttype": fonttype, "svg.hashsalt": "fixed"}):
        figure.savefig(buffer, format="svg", metadata={"Date": date})
    return buffer.getvalue()


def _count(data: bytes, tag: str) -> int:
    return len(ET.fromstring(data).findall(f".//svg:{tag}", NS))


def test_matplotlib_figure_survives_with_paths():
    original = _matplotlib_svg()
    clean = sanitize_svg(original)
    assert clean is not None and clean.startswith(b"<?xml")
    root = ET.fromstring(clean)
    assert root.tag == f"{{{SVG}}}svg" and root.get("viewBox") == ET.fromstring(original).get("viewBox")
    for tag in ("path", "use", "g", "style", "clipPath"):
        assert _count(clean, tag) == _count(original, tag) > 0, tag
    assert b"<svg xmlns=\"http://www.w3.org/2000/svg\"" in clean and b"xlink:href=\"#" in clean  # readable names
    assert b"metadata" not in clean and b"dc:date" not in clean and b"DOCTYPE" not in clean


def test_matplotlib_text_survives():
    clean = sanitize_svg(_matplotlib_svg(fonttype="none"))
    texts = ["".join(t.itertext()) for t in ET.fromstring(clean).iterfind(".//svg:text", NS)]
    assert "Loss by step" in texts and "squares" in texts


def test_dropping_metadata_makes_figures_reproducible():
    first, second = _matplotlib_svg(date="2026-01-01"), _matplotlib_svg(date="2026-12-31")
    assert first != second
    assert sanitize_svg(first) == sanitize_svg(second)


def _svg(body: str) -> bytes:
    return (f'<svg xmlns="{SVG}" xmlns:xlink="{XLINK}" width="10" height="10">{body}'
            '<rect id="keep" width="5" height="5" fill="url(#grad)"/></svg>').encode()


@pytest.mark.parametrize("body, gone", [
    ("<script>alert(1)</script>", b"alert"),
    ('<script xlink:href="https://evil.example/x.js"/>', b"evil"),
    ('<g onload="alert(1)" onclick="alert(2)"><circle r="1" ONMOUSEOVER="alert(3)"/></g>', b"alert"),
    ('<foreignObject><body xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></body></foreignObject>',
     b"alert"),
    ('<a xlink:href="javascript:alert(1)"><text>click</text></a>', b"javascript"),
    ('<a href="javascript:alert(1)"><circle r="1"/></a>', b"javascript"),
    ('<set attributeName="href" to="javascript:alert(1)"/>', b"javascript"),
    ('<animate attributeName="href" values="javascript:alert(1)"/>', b"javascript"),
    ('<animateTransform attributeName="transform"/><animateMotion path="M0 0"/>', b"animate"),
    ('<use href="http://evil.example/sprite.svg#a"/>', b"evil"),
    ('<use xlink:href="https://evil.example/sprite.svg#a"/>', b"evil"),
    ('<image href="https://evil.example/track.png"/>', b"evil"),
    ('<image xlink:href="data:image/svg+xml;base64,PHN2Zz4="/>', b"svg+xml"),
    ('<feImage href="https://evil.example/x.png"/>', b"evil"),
    ('<rect style="fill: url(https://evil.example/x)" width="1"/>', b"evil"),
    ('<rect fill="url(https://evil.example/#x)" width="1"/>', b"evil"),
    ('<style>@import url(https://evil.example/x.css); rect { fill: url(https://evil.example/y) }</style>', b"evil"),
    ("<style>rect { fill: u\\72l(https://evil.example/y) }</style>", b"evil"),
    ('<metadata><x:secret xmlns:x="urn:x">date</x:secret></metadata>', b"secret"),
    ('<x:widget xmlns:x="urn:x"><circle r="1"/></x:widget>', b"widget"),
    ('<iframe xmlns="http://www.w3.org/1999/xhtml" src="https://evil.example"/>', b"evil"),
])
def test_hostile_parts_are_dropped(body, gone):
    clean = sanitize_svg(_svg(body))
    assert clean is not None
    assert gone not in clean, clean
    root = ET.fromstring(clean)  # still well formed
    assert root.find(".//svg:rect[@id='keep']", NS).get("fill") == "url(#grad)"  # local references stay


def test_safe_references_and_text_stay():
    body = ('<defs><linearGradient id="grad"><stop offset="0"/></linearGradient></defs>'
            '<use xlink:href="#keep"/><image xlink:href="data:image/png;base64,iVBORw0K&#10;GgoAAAA="/>'
            '<text>before<script>x</script> after</text>')
    root = ET.fromstring(sanitize_svg(_svg(body)))
    assert root.find(".//svg:use", NS).get(f"{{{XLINK}}}href") == "#keep"
    assert root.find(".//svg:image", NS).get(f"{{{XLINK}}}href").startswith("data:image/png;base64,")
    assert "".join(root.find(".//svg:text", NS).itertext()) == "before after"


@pytest.mark.parametrize("data", [
    b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "x">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><svg xmlns="http://www.w3.org/2000/svg">&lol3;</svg>',
    b'<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg">&xxe;</svg>',
    b'<!DOCTYPE svg SYSTEM "https://evil.example/x.dtd"><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>',
    b'<!DOCTYPE html><svg xmlns="http://www.w3.org/2000/svg"/>',
    b"<svg xmlns='http://www.w3.org/2000/svg'><rect></svg>",
    b"not xml at all",
    b"",
    b'<html xmlns="http://www.w3.org/1999/xhtml"><svg xmlns="http://www.w3.org/2000/svg"/></html>',
    b"<svg><rect/></svg>",  # no SVG namespace: not an SVG document
])
def test_refused(data):
    assert sanitize_svg(data) is None
