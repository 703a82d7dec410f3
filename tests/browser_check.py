"""What a reader of the built site would see wrong, measured in headless Chromium with the network off.

Used by ``tests/test_browser.py`` (on the real book and on a mini book seeded with one fault per kind) and
runnable by hand to audit a build and take screenshots::

    .venv/bin/python tests/browser_check.py /tmp/site/_build/html --shots /tmp/shots

Each page is opened at a desktop width (1280 px) and a phone width (390 px). A :class:`Fault` names the
page, the width, the kind of fault and the element (with its LaTeX for an equation), with the numbers that
make it a fault (the element's width against the column's or the viewport's). The kinds:

``console``      an error in the browser console or an uncaught exception
``request``      a request that failed (a missing file) or was blocked (the page wanted the network)
``column``       at 1280 px: display math, a table, a figure or a code block wider than the article
                 column, even if it scrolls inside its own box (long equations must be broken into lines)
``page-width``   the document is wider than the viewport, or an element sticks out of it
``cut-off``      content wider than its box, in a box that clips it instead of scrolling
``raw-text``     TeX delimiters or MyST directive/role text left in the rendered text
``table-cells``  a table row with fewer (or more) cells than its header, or an empty cell a split row left
``table-norm``   math in a table with a bare ``|``: in a MyST table ``\\|`` becomes ``|`` (a norm set as |x|)
``math-error``   MathJax could not typeset an expression
``unrendered``   math left untypeset (MathJax did not run) or a plotly figure not drawn
``figure-text``  plotly labels (titles, axis titles, annotations, legend) that overlap, run past the
                 figure's edge, or show raw TeX such as ``‖G‖_F``
``inline-scroll`` an inline formula wider than its line, so that it scrolls sideways in its own box (a
                 reader on a phone sees it cut and may never scroll it): make it display math or split it
``visible-assert`` an ``assert`` in a code cell the website shows (folded cells included): verification
                 belongs in cells tagged ``remove-cell``/``verify``
``steer``        a precomputed widget whose figure does not change when one of its controls moves, or
                 a page that still says a widget is static
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DESKTOP, PHONE = 1280, 390
WIDTHS = (DESKTOP, PHONE)
HEIGHT = 900
#: Chromium flags: headless, sandbox off (root in a container), nothing that reaches out on its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # belt and braces: no host name resolves
]
TOLERANCE_PX = 1.0  # sub-pixel rounding
#: What signlab's widgets printed on the website before they were precomputed; no page may say it now.
STATIC_VIEW = "Static view of the default settings"
#: A line of code that is an assert statement.
ASSERT = re.compile(r"^\s*assert\b")
#: A norm written with bare bars and a subscript, |x|_1, as MyST leaves \|x\|_1 in a Markdown table.
BAR_NORM = re.compile(r"(?<!\\)\|[^|]+(?<!\\)\|\s*_")

#: Text that must never reach the reader: TeX delimiters MathJax did not consume, MyST syntax the parser
#: did not recognise (a directive in the wrong place, a role without backticks, a fence closed early).
RAW_PATTERNS = [
    ("TeX delimiter $", re.compile(r"\$")),
    ("TeX delimiter \\( or \\[", re.compile(r"\\[(\[]|\\[)\]]")),
    ("TeX environment \\begin", re.compile(r"\\(begin|end)\{")),
    (
        "MyST role or directive",
        re.compile(
            r"\{(prf:[\w-]+|exercise|solution[\w-]*|cite[\w:]*|eq|ref|numref|doc|math|glue[\w:]*|note|warning|admonition|dropdown|figure|code-cell)\}"
        ),
    ),
    ("code fence ```", re.compile(r"```")),
    ("gated solution marker", re.compile(r"solution-(start|end)")),
]

MEASURE_JS = r"""
(DESKTOP) => {
  const vw = document.documentElement.clientWidth;
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const acs = getComputedStyle(article);
  const ar = article.getBoundingClientRect();
  const column = {
    left: ar.left + parseFloat(acs.paddingLeft),
    width: article.clientWidth - parseFloat(acs.paddingLeft) - parseFloat(acs.paddingRight),
  };
  const tex = new Map();
  try {
    for (const item of Array.from(MathJax.startup.document.math)) {
      if (item.typesetRoot) tex.set(item.typesetRoot, {tex: item.math, display: item.display});
    }
  } catch (e) {}
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  };
  const section = (el) => {
    const s = el.closest('section[id]');
    return s ? '#' + s.id : '';
  };
  const short = (s, n) => { s = (s || '').replace(/\s+/g, ' ').trim(); return s.length > n ? s.slice(0, n - 1) + '…' : s; };
  const describe = (el) => {
    let d = el.tagName.toLowerCase();
    if (el.id) d += '#' + el.id;
    const cls = (typeof el.className === 'string' ? el.className : '').split(/\s+/)
      .filter(c => c && !/^(CtxtMenu|MathJax|notranslate|nohighlight)/.test(c)).slice(0, 3);
    if (cls.length) d += '.' + cls.join('.');
    return d;
  };
  // The nearest ancestor-or-self inside the article that clips or scrolls horizontally.
  const scrollBox = (el) => {
    for (let e = el; e && e !== article; e = e.parentElement) {
      const o = getComputedStyle(e).overflowX;
      if (o !== 'visible') return {el: e, overflow: o};
    }
    return null;
  };
  const candidates = [];
  const add = (kind, el, content, label) => {
    if (!visible(el)) return;
    const r = el.getBoundingClientRect();
    const box = scrollBox(el);
    let boxInfo = null;
    if (box) {
      const br = box.el.getBoundingClientRect();
      boxInfo = {desc: describe(box.el), overflow: box.overflow, width: box.el.clientWidth, left: br.left, right: br.right};
    }
    candidates.push({kind, desc: describe(el), label, section: section(el), content,
                     left: r.left, right: r.right, width: r.width, box: boxInfo});
  };
  for (const m of article.querySelectorAll('mjx-container[display="true"]')) {
    const inner = m.querySelector('mjx-math') || m;
    const info = tex.get(m);
    add('display math', m, inner.getBoundingClientRect().width, info ? info.tex : short(m.textContent, 80));
  }
  for (const t of article.querySelectorAll('table')) {
    const head = t.querySelector('tr');
    add('table', t, Math.max(t.scrollWidth, t.getBoundingClientRect().width), short(head ? head.textContent : t.textContent, 80));
  }
  for (const f of article.querySelectorAll('.plotly-graph-div')) {
    const svg = f.querySelector('svg.main-svg');
    const w = Math.max(f.getBoundingClientRect().width, svg ? svg.getBoundingClientRect().width : 0);
    const title = f.querySelector('.gtitle');
    add('plotly figure', f, w, short(title ? title.textContent : f.id, 80));
  }
  for (const f of article.querySelectorAll('img, figure, video, iframe')) {
    add('figure', f, f.getBoundingClientRect().width, short(f.getAttribute('src') || f.textContent, 80));
  }
  const ctx2d = document.createElement('canvas').getContext('2d');
  for (const p of article.querySelectorAll('pre')) {
    const cs = getComputedStyle(p);
    const pad = parseFloat(cs.paddingLeft) + parseFloat(cs.paddingRight);
    ctx2d.font = cs.font;
    const charWidth = ctx2d.measureText('0123456789').width / 10;
    const fits = Math.floor((column.width - pad) / charWidth);
    const lines = p.textContent.split('\n');
    const longest = lines.reduce((a, l) => Math.max(a, l.length), 0);
    const kind = p.closest('.cell_output, .output') ? 'output block' : 'code block';
    add(kind, p, p.scrollWidth, 'longest line ' + longest + ' characters (the column holds ' + fits +
        '): ' + short(lines.find(l => l.length === longest), 70));
  }
  for (const m of article.querySelectorAll('mjx-container:not([display="true"])')) {
    const inner = m.querySelector('mjx-math') || m;
    const info = tex.get(m);
    add('inline math', m, inner.getBoundingClientRect().width, info ? info.tex : short(m.textContent, 80));
  }
  // Elements that stick out of the viewport to the right, outside any clipping/scrolling box.
  // On a desktop nothing may reach past the column (into the page's table of contents); on a phone
  // nothing past the viewport.
  const limit = vw >= DESKTOP ? column.left + column.width : vw;
  const sticking = [];
  const walk = (el) => {
    for (const c of el.children) {
      const r = c.getBoundingClientRect();
      if (r.right > limit + 1 && r.width > 0 && !scrollBox(c)) {
        sticking.push({desc: describe(c), section: section(c), right: r.right, width: r.width, text: short(c.textContent, 60)});
        continue;
      }
      if (getComputedStyle(c).overflowX === 'visible') walk(c);
    }
  };
  walk(article);
  // Text the reader sees (and text folded away in dropdowns), without code, math and scripts.
  const skip = 'script, style, pre, code, kbd, samp, textarea, mjx-container, .MathJax, .highlight, .cell_input, .js-plotly-plot';
  const texts = [];
  const tw = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  for (let n = tw.nextNode(); n; n = tw.nextNode()) {
    const p = n.parentElement;
    if (!p || p.closest(skip)) continue;
    if (n.textContent.trim()) texts.push({text: n.textContent, where: describe(p), section: section(p)});
  }
  // Tables: the cells of each row against the header's; math in cells.
  const tables = [];
  article.querySelectorAll('table').forEach((t, ti) => {
    const rows = Array.from(t.rows);
    if (!rows.length) return;
    const span = (r) => Array.from(r.cells).reduce((a, c) => a + (c.colSpan || 1), 0);
    const headRow = t.tHead && t.tHead.rows.length ? t.tHead.rows[t.tHead.rows.length - 1] : rows[0];
    const header = Array.from(headRow.cells).map(c => short(c.textContent, 30));
    const bad = [];
    rows.forEach((r, ri) => {
      if (r === headRow || (t.tHead && t.tHead.contains(r))) return;
      const n = span(r);
      const empty = Array.from(r.cells).map((c, ci) => [c, ci]).filter(([c, ci]) =>
        !c.textContent.trim() && !c.querySelector('img, svg, mjx-container') && header[ci]).map(([c, ci]) => header[ci]);
      if (n !== span(headRow) || empty.length) bad.push({row: ri, cells: n, empty, text: Array.from(r.cells).map(c => short(c.textContent, 40))});
    });
    const math = [];
    t.querySelectorAll('mjx-container').forEach(m => {
      const info = tex.get(m);
      math.push({tex: info ? info.tex : '', norm: !!m.querySelector('mjx-c.mjx-c2016, mjx-c.mjx-c2225')});
    });
    tables.push({index: ti, section: section(t), header, headerCells: span(headRow), bad, math});
  });
  const undrawn = Array.from(article.querySelectorAll('.plotly-graph-div')).filter(d => !d.querySelector('svg.main-svg')).map(d => ({desc: describe(d), section: section(d)}));
  const untypeset = Array.from(article.querySelectorAll('span.math, div.math')).filter(e => !e.querySelector('mjx-container')).map(e => ({text: short(e.textContent, 80), section: section(e)}));
  // Figure labels: titles, axis titles, annotations and legend entries that overlap each other or run
  // past the figure's edge, and TeX that plotly printed as text (it typesets no math here).
  const figureText = [];
  const hits = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 2 &&
                         Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 2;
  let figureIndex = 0;
  for (const f of article.querySelectorAll('.js-plotly-plot')) {
    figureIndex += 1;
    const svg = f.querySelector('svg.main-svg');
    if (!svg || !visible(f)) continue;
    const fr = svg.getBoundingClientRect();
    const title = f.querySelector('.gtitle');
    const fig = title && title.textContent.trim() ? short(title.textContent, 60) : 'figure ' + figureIndex + ' (untitled)';
    const labels = Array.from(f.querySelectorAll('.gtitle, .g-xtitle text, .g-ytitle text, [class^="g-x"][class$="title"] text, [class^="g-y"][class$="title"] text, .annotation-text, .legendtext'))
      .filter((t, i, all) => t.textContent.trim() && all.indexOf(t) === i).map(t => ({text: short(t.textContent, 50), r: t.getBoundingClientRect()}));
    const seen = new Set();
    for (let i = 0; i < labels.length; i++) {
      const a = labels[i];
      if (a.r.right > fr.right + 1 || a.r.left < fr.left - 1)
        figureText.push({fig, section: section(f), what: `label '${a.text}' runs past the figure's edge (${Math.round(a.r.left - fr.left)} to ${Math.round(a.r.right - fr.left)} px in a ${Math.round(fr.width)} px figure)`});
      for (let j = i + 1; j < labels.length; j++) {
        const b = labels[j], key = a.text + '|' + b.text;
        if (hits(a.r, b.r) && !seen.has(key)) {
          seen.add(key);
          figureText.push({fig, section: section(f), what: `labels '${a.text}' and '${b.text}' overlap`});
        }
      }
      const tex = a.text.match(/(‖|\)|\]|\})_[A-Za-z*{]+|[_^]\{|\\[A-Za-z]{2,}|\$/);
      if (tex) figureText.push({fig, section: section(f), what: `label '${a.text}' shows raw TeX '${tex[0]}'`});
    }
  }
  const code = Array.from(article.querySelectorAll('div.cell_input')).map(c => ({text: c.textContent, section: section(c)}));
  const errors = Array.from(article.querySelectorAll('mjx-merror')).map(e => ({text: short(e.textContent, 80), section: section(e)}));
  return {vw, limit, docWidth: document.documentElement.scrollWidth, column, candidates, sticking, texts, tables, errors, undrawn, untypeset, figureText, code};
}
"""

#: Move every control of every precomputed widget (signbook's steerable.js) to another value and back,
#: reporting for each whether the figure's data or layout changed.
STEER_JS = r"""
async () => {
  const results = [];
  const widgets = Array.from(document.querySelectorAll('.signbook-steerable'));
  for (let w = 0; w < widgets.length; w++) {
    const root = widgets[w];
    const plot = root.querySelector('.signbook-steerable-plot');
    const s = root.closest('section[id]');
    const where = s ? '#' + s.id : '';
    const drawn = !!(plot && plot.querySelector('svg.main-svg'));
    const state = () => JSON.stringify([plot.data, plot.layout]);
    const inputs = Array.from(root.querySelectorAll('.signbook-controls [data-index]'));
    for (const input of inputs) {
      const name = input.getAttribute('aria-label') || 'control';
      const count = input.tagName === 'SELECT' ? input.options.length : Number(input.max) + 1;
      const before = state(), old = input.value;
      const other = String(Number(old) === count - 1 ? 0 : count - 1);
      input.value = other;
      input.dispatchEvent(new Event('input'));
      await new Promise(r => setTimeout(r, 50));
      const changed = state() !== before;
      input.value = old;
      input.dispatchEvent(new Event('input'));
      await new Promise(r => setTimeout(r, 50));
      results.push({widget: w + 1, where, name, count, changed, drawn});
    }
  }
  return results;
}
"""

READY_JS = r"""
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  if (document.fonts) await document.fonts.ready;
  const deadline = Date.now() + 15000;
  const drawn = () => Array.from(document.querySelectorAll('.plotly-graph-div')).every(d => d.querySelector('svg.main-svg'));
  while (!drawn() && Date.now() < deadline) await new Promise(r => setTimeout(r, 100));
  await new Promise(r => setTimeout(r, 300));
}
"""


@dataclass(frozen=True)
class Fault:
    """One thing wrong on one page at one width, said so that its owner can find and fix it."""

    page: str
    width: int
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.page} @ {self.width}px [{self.kind}] {self.message}"


def chromium_path() -> str | None:
    """The system Chromium (Debian's ``chromium``); the test never downloads a browser."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def launch(playwright: Any) -> Any:
    exe = chromium_path()
    if exe is None:
        raise RuntimeError("chromium is not installed (`make browser` installs Debian's package)")
    return playwright.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)


def _where(section: str) -> str:
    return f" in {section}" if section else ""


def _px(x: float) -> str:
    return f"{x:.0f} px"


def _layout_faults(page: str, width: int, m: dict) -> list[Fault]:
    faults = []
    col = m["column"]["width"]
    if m["docWidth"] > m["vw"] + TOLERANCE_PX:
        faults.append(
            Fault(
                page,
                width,
                "page-width",
                f"the document is {m['docWidth']} px wide in a {m['vw']} px viewport "
                "(the reader scrolls the whole page sideways)",
            )
        )
    for s in m["sticking"]:
        what = f"{s['desc']}{_where(s['section'])} ({s['text']!r}), {_px(s['width'])} wide,"
        if width >= DESKTOP:
            kind = "column"
            where = f"past the column's right edge at {_px(m['limit'])}"
        else:
            kind = "page-width"
            where = f"in a {m['vw']} px viewport: it widens the page"
        faults.append(
            Fault(
                page,
                width,
                kind,
                f"{what} reaches {_px(s['right'])} {where} instead of scrolling inside its own box",
            )
        )
    for c in m["candidates"]:
        label = " ".join(c["label"].split())
        what = f"{c['kind']} {c['desc']}{_where(c['section'])}: {label}"
        box = c["box"]
        if (
            c["kind"] == "inline math"
            and box
            and box["overflow"] in ("auto", "scroll")
            and c["content"] > box["width"] + TOLERANCE_PX
        ):
            faults.append(
                Fault(
                    page,
                    width,
                    "inline-scroll",
                    f"{what} is {_px(c['content'])} wide in a line of {_px(box['width'])}: it scrolls "
                    "sideways in its own box (make it display math, or split it)",
                )
            )
            continue
        if width == DESKTOP and c["content"] > col + TOLERANCE_PX:
            faults.append(
                Fault(
                    page,
                    width,
                    "column",
                    f"{what} is {_px(c['content'])} wide, the article column {_px(col)}",
                )
            )
            continue
        box = c["box"]
        if (
            box
            and c["content"] > box["width"] + TOLERANCE_PX
            and box["overflow"] in ("hidden", "clip")
        ):
            faults.append(
                Fault(
                    page,
                    width,
                    "cut-off",
                    f"{what} is {_px(c['content'])} wide in {box['desc']} of {_px(box['width'])} "
                    f"with overflow-x: {box['overflow']} (the rest is cut off)",
                )
            )
    return faults


def _text_faults(page: str, width: int, m: dict) -> list[Fault]:
    faults = []
    for t in m["texts"]:
        for name, pattern in RAW_PATTERNS:
            hit = pattern.search(t["text"])
            if hit:
                a, b = max(0, hit.start() - 40), hit.end() + 40
                snippet = " ".join(t["text"][a:b].split())
                faults.append(
                    Fault(
                        page,
                        width,
                        "raw-text",
                        f"{name} in the text of {t['where']}{_where(t['section'])}: {snippet!r}",
                    )
                )
                break
    for e in m["errors"]:
        faults.append(
            Fault(page, width, "math-error", f"MathJax error{_where(e['section'])}: {e['text']!r}")
        )
    for e in m["untypeset"]:
        faults.append(
            Fault(
                page, width, "unrendered", f"math not typeset{_where(e['section'])}: {e['text']!r}"
            )
        )
    for t in m["figureText"]:
        faults.append(
            Fault(
                page,
                width,
                "figure-text",
                f"plotly figure {t['fig']!r}{_where(t['section'])}: {t['what']}",
            )
        )
    for t in m["texts"]:
        if STATIC_VIEW in t["text"]:
            faults.append(
                Fault(
                    page, width, "steer", f"{t['where']}{_where(t['section'])} says {STATIC_VIEW!r}"
                )
            )
    if width == DESKTOP:  # the code is the same at every width: report it once
        for c in m["code"]:
            for line in c["text"].splitlines():
                if ASSERT.match(line):
                    faults.append(
                        Fault(
                            page,
                            width,
                            "visible-assert",
                            f"a code cell{_where(c['section'])} shows {line.strip()[:90]!r}",
                        )
                    )
    for d in m["undrawn"]:
        faults.append(
            Fault(
                page,
                width,
                "unrendered",
                f"plotly figure {d['desc']}{_where(d['section'])} not drawn",
            )
        )
    return faults


def _table_faults(page: str, width: int, m: dict) -> list[Fault]:
    faults = []
    for t in m["tables"]:
        name = f"table {t['index'] + 1}{_where(t['section'])} (header {' | '.join(t['header'])})"
        for r in t["bad"]:
            if r["cells"] != t["headerCells"]:
                why = f"{r['cells']} cells, the header {t['headerCells']}"
            else:
                empty = ", ".join(repr(h) for h in r["empty"])
                why = f"a cell empty under {empty} (a cell missing from the source row)"
            faults.append(
                Fault(
                    page,
                    width,
                    "table-cells",
                    f"{name}: row {r['row']} has {why}: {' | '.join(r['text'])}",
                )
            )
        for x in t["math"]:
            # |x|_1 in a table's math: a norm with its subscript set between bars, which is what MyST
            # makes of \|x\|_1 in a Markdown table. (An absolute value such as E|X|^p is left alone;
            # the source check, markdown_table_faults, reports every \| in a Markdown table row.)
            if re.search(BAR_NORM, x["tex"]):
                faults.append(
                    Fault(
                        page,
                        width,
                        "table-norm",
                        f"{name}: math {x['tex']!r} sets a norm between bars, |x|_p (in a MyST "
                        "table '\\|' becomes '|'): write \\lVert x \\rVert",
                    )
                )
            elif re.search(r"\\(lVert|rVert|Vert\b|\|)", x["tex"]) and not x["norm"]:
                faults.append(
                    Fault(page, width, "table-norm", f"{name}: {x['tex']!r} is not typeset with ‖")
                )
    return faults


def _steer_faults(page: str, width: int, results: list[dict]) -> list[Fault]:
    faults = []
    for r in results:
        what = f"widget {r['widget']}{_where(r['where'])}"
        if not r["drawn"]:
            faults.append(Fault(page, width, "steer", f"{what}: its figure is not drawn"))
        elif r["count"] < 2:
            faults.append(
                Fault(page, width, "steer", f"{what}: control {r['name']!r} has one value")
            )
        elif not r["changed"]:
            faults.append(
                Fault(
                    page,
                    width,
                    "steer",
                    f"{what}: moving control {r['name']!r} does not change the figure",
                )
            )
    return faults


def check_page(
    browser: Any, path: Path, name: str, width: int, screenshot_dir: Path | None = None
) -> tuple[list[Fault], dict]:
    """Open one built page at one width, offline; return its faults and the raw measurements."""
    context = browser.new_context(viewport={"width": width, "height": HEIGHT})
    page = context.new_page()
    events: list[Fault] = []

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            r.continue_()
        else:
            r.abort()

    def on_console(msg: Any) -> None:
        # A missing file is also a failed request, reported (with its URL) by on_failed.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            loc = msg.location or {}
            src = loc.get("url", "").rsplit("/", 1)[-1]
            events.append(Fault(name, width, "console", f"console error ({src}): {msg.text[:300]}"))

    def on_failed(req: Any) -> None:
        failure = req.failure or ""
        url = req.url
        if url.startswith("file:"):
            events.append(Fault(name, width, "request", f"missing file {url} ({failure})"))
        else:
            events.append(
                Fault(name, width, "request", f"network request blocked: {url} ({failure})")
            )

    page.route("**/*", route)
    page.on("console", on_console)
    page.on("pageerror", lambda e: events.append(Fault(name, width, "console", f"uncaught {e}")))
    page.on("requestfailed", on_failed)
    try:
        page.goto(path.as_uri(), wait_until="load", timeout=60_000)
        page.evaluate(READY_JS)
        measured = page.evaluate(MEASURE_JS, DESKTOP)
        steered = page.evaluate(STEER_JS)
        if screenshot_dir is not None:
            screenshot_dir.mkdir(parents=True, exist_ok=True)
            stem = name.replace("/", "_").removesuffix(".html")
            page.screenshot(path=str(screenshot_dir / f"{stem}-{width}.png"), full_page=True)
    finally:
        context.close()
    faults = events + _layout_faults(name, width, measured)
    faults += _text_faults(name, width, measured)
    faults += _table_faults(name, width, measured)
    faults += _steer_faults(name, width, steered)
    return list(dict.fromkeys(faults)), measured


def check_site(
    html: Path,
    pages: list[str],
    widths: tuple[int, ...] = WIDTHS,
    screenshot_dir: Path | None = None,
) -> list[Fault]:
    """Every fault of every page (paths relative to the site root, e.g. ``book/intro.html``)."""
    from playwright.sync_api import sync_playwright

    faults: list[Fault] = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            for name in pages:
                for width in widths:
                    found, _ = check_page(browser, html / name, name, width, screenshot_dir)
                    faults += found
        finally:
            browser.close()
    return faults


# --- The same table fault, read from the Markdown source ---------------------------------------------
# In the browser a row split by an unescaped `|` loses its extra cells silently (markdown-it drops cells
# beyond the header's count), so the source is read too: every row must have the header's cell count.

_DELIMITER = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def _cells(row: str) -> int:
    body = row.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return len(re.split(r"(?<!\\)\|", body))


def markdown_table_faults(text: str, where: str) -> list[str]:
    """Rows whose cell count differs from their header's, and ``\\|`` inside table rows."""
    faults = []
    lines = text.splitlines()
    fence = False
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        if fence or i == 0 or not _DELIMITER.match(line) or "|" not in lines[i - 1]:
            continue
        header = _cells(lines[i - 1])
        for j in range(i - 1, len(lines)):
            row = lines[j]
            if "|" not in row or not row.strip():
                break
            if j == i:
                continue
            n = _cells(row)
            if n != header:
                faults.append(
                    f"{where} line {j + 1}: a table row with {n} cells under a header of {header} "
                    f"(an unescaped | splits a cell): {row.strip()[:120]}"
                )
            if "\\|" in row:
                faults.append(
                    f"{where} line {j + 1}: '\\|' in a table row becomes '|' "
                    f"(write \\lVert x \\rVert): {row.strip()[:120]}"
                )
    return faults


def source_table_faults(paths: list[Path], root: Path) -> list[str]:
    """:func:`markdown_table_faults` over Markdown files and the markdown cells of notebooks."""
    import json

    faults = []
    for path in paths:
        rel = path.relative_to(root).as_posix()
        if path.suffix == ".ipynb":
            for k, cell in enumerate(json.loads(path.read_text())["cells"]):
                if cell["cell_type"] == "markdown":
                    faults += markdown_table_faults("".join(cell["source"]), f"{rel} cell {k}")
        else:
            faults += markdown_table_faults(path.read_text(), rel)
    return faults


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("html", type=Path, help="the built site (…/_build/html)")
    ap.add_argument(
        "pages", nargs="*", help="pages relative to the site root (default: book/*.html)"
    )
    ap.add_argument("--shots", type=Path, help="save full-page screenshots here")
    args = ap.parse_args(argv)
    pages = args.pages or sorted(
        p.relative_to(args.html).as_posix() for p in (args.html / "book").glob("*.html")
    )
    faults = check_site(args.html, pages, screenshot_dir=args.shots)
    for f in faults:
        print(f)
    print(f"{len(faults)} faults on {len(pages)} pages")
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main())
