"""SVG figures from untrusted notebooks, reduced to what draws.

``sanitize_svg`` refuses documents with an entity declaration or a DOCTYPE other than
matplotlib's plain ``<!DOCTYPE svg PUBLIC ...>`` (no internal subset), documents that do not
parse, and documents whose root is not an SVG ``svg`` element. It keeps an allow-list
of SVG elements (shapes, text, gradients, filters, ...) and drops everything else with its
subtree: scripts, ``foreignObject``, animation (``animate``, ``set``, ...), links, elements
of other namespaces and ``metadata`` (matplotlib writes its creation date there, so
dropping it also keeps figures byte-for-byte reproducible). Event handlers go; ``href``
survives only as a local ``#id`` or, on ``image``, as a base64 PNG/JPEG/GIF/WebP data
URI; CSS loses ``@import`` and every ``url(...)`` that does not point to ``#id``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.parsers import expat

SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
XML = "http://www.w3.org/XML/1998/namespace"

ELEMENTS = frozenset({
    "svg", "g", "defs", "symbol", "use", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
    "text", "tspan", "textPath", "clipPath", "mask", "pattern", "linearGradient", "radialGradient", "stop",
    "marker", "image", "title", "desc", "style", "filter",
    "feBlend", "feColorMatrix", "feComponentTransfer", "feComposite", "feConvolveMatrix", "feDiffuseLighting",
    "feDisplacementMap", "feDistantLight", "feDropShadow", "feFlood", "feFuncA", "feFuncB", "feFuncG", "feFuncR",
    "feGaussianBlur", "feImage", "feMerge", "feMergeNode", "feMorphology", "feOffset", "fePointLight",
    "feSpecularLighting", "feSpotLight", "feTile", "feTurbulence",
})
_LOCAL = re.compile(r"#[A-Za-z_][\w.:-]*")
_DATA_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*")
_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.I | re.S)


class _Refused(Exception):
    pass


def _refuse(*_args) -> None:
    raise _Refused


def _doctype(name: str, _system, _public, has_internal_subset: bool) -> None:
    if name != "svg" or has_internal_subset:
        raise _Refused


def _well_formed_without_declarations(data: bytes) -> bool:
    """Expat reads the whole document first: well formed, no entity declaration, and no
    DOCTYPE except matplotlib's plain ``<!DOCTYPE svg PUBLIC ...>`` (no internal subset,
    and the external DTD is never read)."""
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _doctype
    parser.EntityDeclHandler = _refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(data, True)
    except (_Refused, expat.ExpatError):
        return False
    return True


def _clean_css(css: str) -> str | None:
    """CSS without @import and without url(...) other than url(#id); None when the CSS
    uses escapes, which could hide either."""
    if "\\" in css:
        return None
    css = re.sub(r"@import[^;]*;?", "", css, flags=re.I)
    return _URL.sub(lambda m: m.group(0) if _LOCAL.fullmatch(m.group(2).strip()) else "none", css)


def _clean_attributes(element: ET.Element, local: str) -> None:
    for name in list(element.attrib):
        value = element.attrib[name]
        namespace, _, key = name[1:].partition("}") if name.startswith("{") else ("", "", name)
        keep = namespace in ("", XLINK, XML) and not key.lower().startswith("on")
        if keep and key == "href":
            keep = namespace in ("", XLINK) and bool(
                _LOCAL.fullmatch(value.strip()) or local == "image" and _DATA_IMAGE.fullmatch(value.strip()))
        elif keep and namespace == XLINK:
            keep = False  # xlink:title, xlink:show, ... serve links, which are gone
        elif keep and key == "style":
            value = _clean_css(value)
            keep = value is not None
        elif keep and "url(" in value.lower():
            keep = all(_LOCAL.fullmatch(m.group(2).strip()) for m in _URL.finditer(value))
        if not keep:
            del element.attrib[name]
        elif value != element.attrib[name]:
            element.attrib[name] = value


def _clean(element: ET.Element) -> None:
    previous = None
    for child in list(element):
        tag = child.tag if isinstance(child.tag, str) else ""
        namespace, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
        if namespace != SVG or local not in ELEMENTS:
            if child.tail:  # the text after a dropped element belongs to its parent
                if previous is None:
                    element.text = (element.text or "") + child.tail
                else:
                    previous.tail = (previous.tail or "") + child.tail
            element.remove(child)
            continue
        previous = child
        _clean_attributes(child, local)
        if local == "style":
            css = _clean_css("".join(child.itertext()))
            for grandchild in list(child):
                child.remove(grandchild)
            child.text = css or ""
        _clean(child)


def sanitize_svg(data: bytes) -> bytes | None:
    """The SVG document *data* with only drawing elements and safe attributes, or None
    when it is refused (ENTITY declarations, a DOCTYPE with an internal subset, not well
    formed, root not svg)."""
    if not _well_formed_without_declarations(data):
        return None
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    if root.tag != f"{{{SVG}}}svg":
        return None
    _clean_attributes(root, "svg")
    _clean(root)
    ET.register_namespace("", SVG)  # <svg xmlns="...">, not <ns0:svg>
    ET.register_namespace("xlink", XLINK)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


#: a rasterised SVG is drawn at this multiple of its own size (crisp on high-density screens)
RASTER_ZOOM = 2.0
#: ... but no wider than this many pixels
RASTER_MAX_WIDTH = 2400


def png_drawing(path: str) -> str:
    """Where the PNG drawing of the SVG figure at *path* lives (beside it: ``x.svg`` -> ``x.svg.png``)."""
    return path + ".png"


def svg_to_png(data: bytes) -> bytes:
    """A PNG drawing of the (sanitised) SVG *data*, for the platforms that do not show SVG
    (Zenn; Qiita, whose raw-hosted images are served as text). Raises ValueError when it cannot
    be drawn. Uses resvg (the ``resvg-py`` package: no system libraries); units such as pt are
    read at 96 dpi, as browsers do."""
    import resvg_py

    text = data.decode("utf-8")
    try:
        png = bytes(resvg_py.svg_to_bytes(svg_string=text, zoom=RASTER_ZOOM, dpi=96.0, background="white"))
        if png[16:20] and int.from_bytes(png[16:20], "big") > RASTER_MAX_WIDTH:
            png = bytes(resvg_py.svg_to_bytes(svg_string=text, width=RASTER_MAX_WIDTH, dpi=96.0, background="white"))
    except Exception as exc:  # resvg reports bad documents with its own error types
        raise ValueError(f"cannot draw the SVG ({exc})") from None
    if not png.startswith(b"\x89PNG"):
        raise ValueError("cannot draw the SVG (no PNG came out)")
    return png
