"""Self-contained HTML pages: inline styles, inline images, and Vega-Lite charts drawn in
the browser by one inline script. A page never references the network (no CDN, no web
font, no external stylesheet), so it opens offline and can be attached to a pull request.

Charts are `<div data-vega-spec>` blocks holding their spec as JSON; one module script,
the bundle of Vega, Vega-Lite and vega-embed that vl-convert builds, finds and draws
them all. Vega-Lite is what DVC's own plots use and is well kept; vl-convert ships the
whole library as one dependency-free ES module, which is what an offline page needs.
"""

from __future__ import annotations

import base64
import hashlib
import html
import importlib.util
import json
import os
import re

from lode.atomic import write_text_atomic
from lode.ops.reports import ReportError

MIME = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
}

# What the page runs: draw every chart block; a chart that fails says so in its place and
# on the console (a browser test watches it), the others are still drawn. When all are
# done, <html data-charts="done"> tells a test or a screenshot tool it may look.
_SNIPPET = """
async function drawCharts() {
  for (const div of document.querySelectorAll("div[data-vega-spec]")) {
    try {
      const holder = div.querySelector('script[type="application/json"]');
      const spec = JSON.parse(holder ? holder.textContent : div.dataset.vegaSpec);
      if (holder) holder.remove();
      await vegaEmbed(div, spec, {renderer: "svg", actions: false, mode: "vega-lite"});
      div.dataset.rendered = "true";
    } catch (err) {
      console.error("chart " + div.id + " could not be drawn: " + err);
      div.classList.add("chart-error");
      div.textContent = "This chart could not be drawn: " + err;
    }
  }
  document.documentElement.dataset.charts = "done";
}
drawCharts();
"""

# No network and no code but the page's own: the browser enforces what the tests check.
# ('unsafe-eval': Vega compiles its expressions with Function.)
_CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
        "style-src 'unsafe-inline'; img-src data:; font-src data:")

_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1f2328; background: #fff; margin: 0 auto; padding: 16px 24px 48px;
  max-width: 1400px; }
h1 { font-size: 1.6em; margin: 0.4em 0; }
h2 { font-size: 1.3em; margin: 1.4em 0 0.5em; border-bottom: 1px solid #d0d7de;
  padding-bottom: 0.2em; }
h3 { font-size: 1.1em; margin: 1em 0 0.4em; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; }
th { background: #f6f8fa; }
td.changed { background: #fff8c5; font-weight: 600; }
td.up { color: #1a7f37; } td.down { color: #cf222e; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
.plot { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 12px;
  max-width: 100%; overflow-x: auto; }
.plot h3 { margin-top: 0.2em; }
.images { display: flex; flex-wrap: wrap; gap: 12px; }
figure.image { margin: 0; }
figure.image img { max-width: 480px; max-height: 480px; border: 1px solid #eaeef2; }
figcaption { font-size: 0.9em; color: #57606a; text-align: center; }
.note { color: #57606a; font-size: 0.9em; margin: 0.3em 0; }
.chart-error { color: #cf222e; white-space: pre-wrap; }
"""

# Ends every cached bundle: a file cut short (or built from another snippet) is rebuilt.
_SNIPPET_MARK = f"\n//# lode-charts {hashlib.md5(_SNIPPET.encode()).hexdigest()}\n"

_bundle: str | None = None


class MissingReportExtraError(ReportError):
    """vl-convert-python (the Vega bundle every chart page inlines) is not installed."""

    def __init__(self) -> None:
        super().__init__("plots and reports need the 'report' extra: "
                         "pip install 'lode[report]'")


def require_bundle() -> None:
    """Refuse, before any work, to make a page this installation cannot draw; finds
    vl_convert without importing it (a V8 bundle, slow to load)."""
    if importlib.util.find_spec("vl_convert") is None:
        raise MissingReportExtraError()


def escape(text: object) -> str:
    """Text made safe inside HTML elements and quoted attributes."""
    return html.escape(str(text), quote=True)


def _bundle_path(cache_dir: str, version: str) -> str:
    return os.path.join(cache_dir, f"vega-bundle-{version}.js")


def bundle(cache_dir: str | None = None) -> str:
    """The page's script: Vega, Vega-Lite and vega-embed with the drawing snippet, one
    ES module. Building it takes about two seconds, so it is kept for the process and,
    with `cache_dir` (lode keeps it in .dvc/tmp/lode/), on disk by vl-convert's version."""
    global _bundle
    if _bundle is not None:
        return _bundle
    try:
        import vl_convert  # a V8 bundle: heavy, and only the `report` extra installs it
    except ImportError as e:
        if (e.name or "").split(".")[0] != "vl_convert":
            raise
        raise MissingReportExtraError() from None

    version = getattr(vl_convert, "__version__", "unknown")
    path = _bundle_path(cache_dir, version) if cache_dir else None
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if text.endswith(_SNIPPET_MARK):
                _bundle = text
                return text
        except OSError:
            pass
    text = vl_convert.javascript_bundle(_SNIPPET) + _SNIPPET_MARK
    if path:
        try:  # a cache: a read-only repository or a full disk only costs the rebuild
            os.makedirs(cache_dir, exist_ok=True)  # type: ignore[arg-type]
            write_text_atomic(path, text)
        except OSError:
            pass
    _bundle = text
    return text


def vega_block(spec: dict, block_id: str) -> str:
    """A chart: a div the page's script draws `spec` (Vega-Lite) into."""
    # "<" escaped keeps any "</script>" or "<!--" in the data from ending the element.
    data = json.dumps(spec, separators=(",", ":"), default=str).replace("<", "\\u003c")
    return (f'<div class="chart" id="{escape(block_id)}" data-vega-spec="">'
            f'<script type="application/json">{data}</script></div>')


def image_block(data: bytes, name: str, caption: str | None = None) -> str:
    """An image inline as a data URI (type from `name`'s extension), captioned with
    `caption` (default: `name`)."""
    mime = MIME.get(os.path.splitext(name)[1].lower(), "application/octet-stream")
    b64 = base64.b64encode(data).decode("ascii")
    label = name if caption is None else caption
    return (f'<figure class="image"><img alt="{escape(name)}" src="data:{mime};base64,{b64}">'
            f"<figcaption>{escape(label)}</figcaption></figure>")


def page(title: str, body: str, scripts: bool = True, cache_dir: str | None = None) -> str:
    """A complete HTML document: `body` with the inline styles and, with `scripts`, the
    inline chart script (see `bundle` for `cache_dir`)."""
    # The bundle holds no "</script" today; were one to appear in a string or a regular
    # expression, "<\/script" means the same to JavaScript and no longer ends the element.
    script = ""
    if scripts:
        code = re.sub(r"</(script)", r"<\\/\1", bundle(cache_dir), flags=re.IGNORECASE)
        script = f'<script type="module">{code}</script>'
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f"<body>{body}{script}</body></html>\n"
    )
