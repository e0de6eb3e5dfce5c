"""PNG charts of a statement, for people who do not read tables: by maker a bar per maker
split into her share, the collective fund and the museum commission; by day a bar (or, over
many days, a line) of the day's sales. matplotlib is an optional extra (`pip install
'vendd[charts]'`), drawn with the Agg backend without pyplot's global state."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from vendd.errors import VenddError
from vendd.money import Money

if TYPE_CHECKING:
    from vendd.ledger.statements import Statement

WIDTH_IN, HEIGHT_IN, DPI = 10.0, 5.6, 100  # 1000 x 560 pixels
LINE_FROM_DAYS = 32  # more days than this: a line, bars would be too thin to read

_TEXT = {
    "es": {"maker": "Ventas por artesana", "day": "Ventas por día", "product": "Ventas por "
           "producto", "slot": "Ventas por casilla", "share": "Artesana", "collective":
           "Fondo colectivo", "museum": "Museo", "gross": "Ventas", "journal": "diario"},
    "en": {"maker": "Sales by maker", "day": "Sales by day", "product": "Sales by product",
           "slot": "Sales by slot", "share": "Maker", "collective": "Collective fund",
           "museum": "Museum", "gross": "Sales", "journal": "journal"},
}


class ChartError(VenddError):
    """A chart cannot be drawn or written."""


def write_chart(st: Statement, path: str | Path, money: Money, language: str = "es") -> Path:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ChartError("charts need matplotlib: pip install 'vendd[charts]'") from None
    text = _TEXT.get(language, _TEXT["en"])
    path = Path(path)
    r = st.report
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    scale = 10 ** money.decimals
    labels = [str(row[1] if r.by == "maker" else row[0]) for row in r.rows]
    if r.by == "maker":
        parts = list(zip(*(s.as_tuple() for s in st.splits), strict=True)) or [(), (), ()]
        bottom = [0.0] * len(labels)
        names = [f"{text['share']} {st.shares.maker}%",
                 f"{text['collective']} {st.shares.collective}%",
                 f"{text['museum']} {st.shares.museum}%"]
        for values, name, colour in zip(parts, names, ("#2a9d8f", "#e9c46a", "#8d99ae"),
                                        strict=True):
            heights = [v / scale for v in values]
            ax.bar(labels, heights, bottom=bottom, label=name, color=colour)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        for x, row in enumerate(r.rows):
            ax.annotate(money(row[-1]), (x, bottom[x]), ha="center", va="bottom", fontsize=10)
        ax.legend(loc="upper right", fontsize=9)
    else:
        heights = [row[-1] / scale for row in r.rows]
        if r.by == "day" and len(labels) > LINE_FROM_DAYS:
            ax.plot(labels, heights, marker=".", color="#2a9d8f")
            step = max(1, len(labels) // 12)
            ax.set_xticks(range(0, len(labels), step))
        else:
            ax.bar(labels, heights, color="#2a9d8f")
            for x, row in enumerate(r.rows):
                ax.annotate(money(row[-1]), (x, heights[x]), ha="center", va="bottom",
                            fontsize=8)
    ax.set_title(f"{text.get(r.by, r.by)}, {st.period.describe()}  "
                 f"({text['gross']} {money(r.gross)})")
    ax.set_ylabel(money.currency)
    ax.tick_params(axis="x", labelrotation=30 if len(labels) > 4 else 0, labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.text(0.01, 0.01, f"{text['journal']} {st.stamp.first_seq}..{st.stamp.last_seq}, "
             f"{st.stamp.head[:16]}", fontsize=7, color="#666666")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    try:
        fig.savefig(path, format="png")
    except OSError as exc:
        raise ChartError(f"{path}: cannot write the chart: {exc}") from exc
    return path
