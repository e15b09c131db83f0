"""The report's plots, drawn with matplotlib into inline PNG images.

Why matplotlib: the report must be one static file that opens without a server, without network
and without JavaScript. Vega-Lite (Altair) draws in the browser, so the page would need the
vega, vega-lite and vega-embed scripts (either fetched from a CDN, which is forbidden here, or
inlined, about 1 MB of JavaScript). matplotlib renders on the machine that builds the report,
is already a dependency, and gives images that look the same in every browser, in a screenshot
and in an e-mail attachment. Images are PNG at twice the CSS size, so they stay sharp on laptop
(HiDPI) screens, embedded as base64 `data:` URLs. Shares per label are HTML tables with bars
(templates), not images: every number sits in its row, and nothing needs drawing.

Label colours come from the config (`StanceConfig.label_colours()`: a label's own colour, else the
Okabe-Ito colour of its polarity, safe under the common colour-vision deficiencies). Heat maps use
one sequential hue (light to dark blue). Numbers are printed on the points, bars and cells, so no
reading depends on colour alone. Long names are wrapped onto several lines, never cut, and every
image records the texts that would fall outside its canvas (`Image.clipped`, empty when all fit).

Every function builds a `matplotlib.figure.Figure` directly (not pyplot), so nothing global is
touched, and returns an `Image` (base64 PNG, size in CSS pixels, alt text).
"""

from __future__ import annotations

import base64
import io
import textwrap
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DPI = 192  # 2 image pixels per CSS pixel (matplotlib's 96 px per inch on screen)
CSS_PX_PER_INCH = 96
WIDTH_IN = 11.5  # 1104 CSS px: the page's content width at 1280 px
SMALL_COLOUR = "#9a9a9a"  # points and counts of small bins


@dataclass(frozen=True)
class Image:
    """A rendered plot: PNG bytes as base64, its display size in CSS pixels, alt text, and the
    texts drawn partly outside the canvas (none when the layout fits)."""

    png_base64: str
    width: int
    height: int
    alt: str
    clipped: tuple[str, ...] = ()

    @property
    def data_url(self) -> str:
        return "data:image/png;base64," + self.png_base64


def text_colour(background: str) -> str:
    """Black or white, whichever reads better on `background` (#RRGGBB)."""
    r, g, b = (int(background[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"


def wrapped(text: str, width: int = 24) -> str:
    """Text safe for a matplotlib label: whitespace collapsed, wrapped at `width` characters (never
    cut), `$` escaped (it would start mathtext)."""
    text = " ".join(str(text).replace("_", " ").split())
    return "\n".join(textwrap.wrap(text, width, break_long_words=False) or [""]).replace("$", r"\$")


def _figure(width_in: float, height_in: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")


def outside_canvas(fig: Any) -> tuple[str, ...]:
    """The visible texts of a drawn figure whose box reaches past the figure's edges (by more than a pixel)."""
    from matplotlib.text import Text

    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    found = []
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip():
            continue
        box = text.get_window_extent(renderer)
        if box.x0 < -1 or box.y0 < -1 or box.x1 > width + 1 or box.y1 > height + 1:
            found.append(text.get_text())
    return tuple(found)


def _render(fig: Any, alt: str) -> Image:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Glyph missing from font": the box is drawn, the page stays readable
        fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
        clipped = outside_canvas(fig)  # after savefig: the constrained layout has been applied
    width_in, height_in = fig.get_size_inches()
    return Image(
        base64.b64encode(buffer.getvalue()).decode("ascii"),
        round(width_in * CSS_PX_PER_INCH),
        round(height_in * CSS_PX_PER_INCH),
        alt,
        clipped,
    )


def _style() -> dict[str, Any]:
    return {
        "font.size": 10,
        "axes.titlesize": 11,
        "axes.titleweight": "bold",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.labelsize": 10,
        "legend.fontsize": 9,
        "legend.frameon": False,
    }


def _legend_handles(labels: Sequence[str], colours: dict[str, str]) -> list[Any]:
    from matplotlib.patches import Patch

    return [Patch(facecolor=colours[label], edgecolor="#888888", linewidth=0.5, label=wrapped(label, 40)) for label in labels]


def _panel_grid(count: int, columns: int) -> tuple[int, int]:
    columns = max(1, min(count, columns))
    return columns, -(-count // columns)


def tone_over_time(trends: Sequence[Any], stance_labels: Sequence[str], colours: dict[str, str], *, alt: str) -> Image:
    """Per target (a `stance.report.trends.Trend`): above, the tone of each bin with its 95% interval
    (small bins hollow and grey); below, the bin's articles stacked by article stance, with n on
    every bin. Three panels to a row for up to 17 bins, two up to 26, one beyond."""
    import matplotlib

    bins = len(trends[0].bins) if trends else 0
    columns, panel_rows = _panel_grid(len(trends), 3 if bins <= 17 else 2 if bins <= 26 else 1)
    count_size = 7 if bins <= 12 * (4 - columns) else 6
    with matplotlib.rc_context(_style()):
        fig = _figure(WIDTH_IN, 0.5 + 2.9 * panel_rows)
        grid = fig.add_gridspec(panel_rows * 2, columns, height_ratios=[2.1, 1.0] * panel_rows)
        for index, trend in enumerate(trends):
            row, column = 2 * (index // columns), index % columns
            top = fig.add_subplot(grid[row, column])
            bottom = fig.add_subplot(grid[row + 1, column], sharex=top)
            _draw_tone(top, trend)
            _draw_article_counts(bottom, trend, stance_labels, colours, count_size)
            top.set_title(wrapped(trend.target, 40), loc="left")
            step = max(1, -(-bins // (30 // columns)))
            names = [b.name for b in trend.bins]
            bottom.set_xticks(range(0, bins, step), [names[i] for i in range(0, bins, step)], rotation=90, fontsize=7)
            top.tick_params(axis="x", labelbottom=False)
            bottom.set_xlim(-0.6, bins - 0.4)
        fig.legend(handles=_legend_handles(stance_labels, colours), loc="outside upper center", ncols=min(len(stance_labels), 6),
                   title="articles by article stance (lower panels)", title_fontsize=8)
        return _render(fig, alt)


def _draw_tone(ax: Any, trend: Any) -> None:
    ax.axhline(0, color="#bbbbbb", linewidth=0.8, zorder=0)
    for i, point in enumerate(trend.bins):
        tone = point.tone
        if tone.value is None:
            continue
        colour = SMALL_COLOUR if point.small else "#1b1b1b"
        if tone.has_interval:
            ax.plot([i, i], [tone.low, tone.high], color=colour, linewidth=1.4, solid_capstyle="butt")
        ax.plot([i], [tone.value], marker="o", markersize=4.5, color=colour, markerfacecolor="white" if point.small else colour)
    ax.set_ylim(-1.08, 1.08)
    ax.set_yticks([-1, 0, 1], ["−1", "0", "+1"], fontsize=8)
    ax.set_ylabel("tone", fontsize=8)


def _draw_article_counts(ax: Any, trend: Any, stance_labels: Sequence[str], colours: dict[str, str], count_size: float) -> None:
    bottoms = [0] * len(trend.bins)
    for label in stance_labels:
        heights = [b.articles.get(label, 0) for b in trend.bins]
        ax.bar(range(len(heights)), heights, bottom=bottoms, color=colours[label], width=0.8, edgecolor="white", linewidth=0.4)
        bottoms = [a + h for a, h in zip(bottoms, heights, strict=True)]
    top = max(bottoms) if bottoms and max(bottoms) else 1
    for i, (total, point) in enumerate(zip(bottoms, trend.bins, strict=True)):
        ax.text(i, total + top * 0.06, str(total), ha="center", va="bottom", fontsize=count_size,
                color=SMALL_COLOUR if point.small else "#333333")
    ax.set_ylim(0, top * 1.55)
    ax.set_yticks([0, top], ["0", str(top)], fontsize=7)
    ax.set_ylabel("articles", fontsize=8)


def frame_heatmaps(
    targets: Sequence[str],
    frames: Sequence[str],
    by_target: dict[str, dict[str, tuple[int, dict[str, int]]]],
    labels: Sequence[str],
    *,
    unit: str,
    alt: str,
) -> Image:
    """Per target, frames (rows) x stance labels (columns): the share of that label's `unit`s
    (articles or paragraphs) carrying the frame; every cell is numbered, – marks an empty label."""
    import matplotlib
    import numpy as np

    columns, panel_rows = _panel_grid(len(targets), 3)
    names = [wrapped(f, 26) for f in frames]
    lines = sum(name.count("\n") + 1 for name in names)
    with matplotlib.rc_context(_style()):
        fig = _figure(WIDTH_IN, 0.9 + (0.8 + 0.2 * lines) * panel_rows)
        axes = fig.subplots(panel_rows, columns, squeeze=False)
        image = None
        for index, target in enumerate(targets):
            ax = axes[index // columns][index % columns]
            totals = [by_target[target][label][0] for label in labels]
            grid = np.array(
                [[(by_target[target][label][1].get(f, 0) / t if t else np.nan) for label, t in zip(labels, totals, strict=True)] for f in frames]
            )
            image = ax.imshow(np.nan_to_num(grid, nan=0.0), cmap="Blues", vmin=0, vmax=1, aspect="auto")
            for r in range(len(frames)):
                for c in range(len(labels)):
                    value = grid[r][c]
                    text = "–" if np.isnan(value) else f"{value:.0%}"
                    ax.text(c, r, text, ha="center", va="center", fontsize=7.5, color="white" if (not np.isnan(value) and value > 0.55) else "black")
            ax.set_xticks(range(len(labels)), [f"{wrapped(label, 12)}\nn={t}" for label, t in zip(labels, totals, strict=True)], fontsize=8)
            ax.xaxis.tick_top()
            if index % columns == 0:
                ax.set_yticks(range(len(frames)), names, fontsize=8)
            else:
                ax.set_yticks([])
            ax.set_title(wrapped(target, 40), loc="left")
            for side in ("top", "right", "left", "bottom"):
                ax.spines[side].set_visible(False)
            ax.tick_params(length=0)
        for index in range(len(targets), panel_rows * columns):
            axes[index // columns][index % columns].set_visible(False)
        if image is not None:
            # horizontal, under the panels, with a short title: a vertical bar's title outgrew the bar
            bar = fig.colorbar(image, ax=axes, location="bottom", shrink=0.35, aspect=40, format=_percent_formatter(), pad=0.02)
            bar.set_label(f"share of the stance's {unit}s carrying the frame", fontsize=8)
            bar.ax.tick_params(labelsize=7)
        return _render(fig, alt)


def _percent_formatter() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1.0, decimals=0)


def confusion_matrices(targets: Sequence[str], matrices: dict[str, list[list[int]]], labels: dict[str, list[str]], *, alt: str) -> Image:
    """Per target, people (rows) x model (columns) counts; the diagonal is agreement."""
    import matplotlib
    import numpy as np

    columns, panel_rows = _panel_grid(len(targets), 3)
    size = max(len(v) for v in labels.values()) if labels else 1
    with matplotlib.rc_context(_style()):
        fig = _figure(WIDTH_IN, (1.5 + 0.5 * size) * panel_rows)
        axes = fig.subplots(panel_rows, columns, squeeze=False)
        for index, target in enumerate(targets):
            ax = axes[index // columns][index % columns]
            grid = np.array(matrices[target], dtype=float)
            names = [wrapped(label, 12) for label in labels[target]]
            ax.imshow(grid, cmap="Blues", vmin=0, vmax=max(grid.max(), 1), aspect="auto")
            for r in range(grid.shape[0]):
                for c in range(grid.shape[1]):
                    ax.text(c, r, f"{int(grid[r, c])}", ha="center", va="center", fontsize=9,
                            color="white" if grid[r, c] > 0.55 * max(grid.max(), 1) else "black", fontweight="bold" if r == c else None)
            ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
            ax.set_yticks(range(len(names)), names, fontsize=8)
            ax.set_xlabel("model")
            ax.set_ylabel("people")
            ax.set_title(wrapped(target, 40), loc="left")
            ax.tick_params(length=0)
            for side in ("top", "right", "left", "bottom"):
                ax.spines[side].set_visible(False)
        for index in range(len(targets), panel_rows * columns):
            axes[index // columns][index % columns].set_visible(False)
        return _render(fig, alt)
