"""The report's plots, drawn with matplotlib into inline PNG images.

Why matplotlib: the report must be one static file that opens without a server, without network
and without JavaScript. Vega-Lite (Altair) draws in the browser, so the page would need the
vega, vega-lite and vega-embed scripts (either fetched from a CDN, which is forbidden here, or
inlined, about 1 MB of JavaScript). matplotlib renders on the machine that builds the report,
is already a dependency, and gives images that look the same in every browser, in a screenshot
and in an e-mail attachment. Images are PNG at twice the CSS size, so they stay sharp on laptop
(HiDPI) screens, embedded as base64 `data:` URLs.

Label colours come from the config (`StanceConfig.label_colours()`: a label's own colour, else the
Okabe-Ito colour of its polarity, a palette that stays distinguishable under the common
colour-vision deficiencies), passed in as a label -> colour mapping. Heat maps use one sequential
hue (light to dark blue), readable without telling hues apart. Numbers are printed on the bars
and cells, so no reading depends on colour alone.

Every function builds a `matplotlib.figure.Figure` directly (not pyplot), so nothing global is
touched, and returns an `Image` (base64 PNG, size in CSS pixels, alt text).
"""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

FRAME_COLOUR = "#0072B2"  # Okabe-Ito blue: frames have no polarity, one hue for all
DPI = 192  # 2 image pixels per CSS pixel (matplotlib's 96 px per inch on screen)
CSS_PX_PER_INCH = 96
FEW = 5  # time bins with fewer paragraphs than this are drawn pale
MAX_LABEL_CHARS = 42


@dataclass(frozen=True)
class Image:
    """A rendered plot: PNG bytes as base64, its display size in CSS pixels, and alt text."""

    png_base64: str
    width: int
    height: int
    alt: str

    @property
    def data_url(self) -> str:
        return "data:image/png;base64," + self.png_base64


def text_colour(background: str) -> str:
    """Black or white, whichever reads better on `background` (#RRGGBB)."""
    r, g, b = (int(background[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"


def plain(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    """Text safe for a matplotlib label: `$` would start mathtext; long names are shortened."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text.replace("$", r"\$")


def _figure(width_in: float, height_in: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")


def _render(fig: Any, alt: str) -> Image:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Glyph missing from font": the box is drawn, the page stays readable
        fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    width_in, height_in = fig.get_size_inches()
    return Image(
        base64.b64encode(buffer.getvalue()).decode("ascii"),
        round(width_in * CSS_PX_PER_INCH),
        round(height_in * CSS_PX_PER_INCH),
        alt,
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


def stacked_shares(
    rows: Sequence[str],
    counts: Sequence[dict[str, int]],
    labels: Sequence[str],
    colours: dict[str, str],
    *,
    title: str = "",
    alt: str,
) -> Image:
    """One horizontal 100 % bar per row, split by label, with percentages on the bars and n at the end."""
    import matplotlib

    with matplotlib.rc_context(_style()):
        fig = _figure(11.5, 0.9 + 0.42 * max(len(rows), 1))
        ax = fig.add_subplot()
        _draw_share_bars(ax, rows, counts, labels, colours)
        if title:
            ax.set_title(plain(title, 120), loc="left")
        fig.legend(
            handles=_legend_handles(labels, colours), loc="outside upper center", ncols=min(len(labels), 6), title=None
        )
        return _render(fig, alt)


def _draw_share_bars(
    ax: Any, rows: Sequence[str], counts: Sequence[dict[str, int]], labels: Sequence[str], colours: dict[str, str],
    *, show_rows: bool = True, min_share_text: float = 0.07,
) -> None:
    y = list(range(len(rows)))
    left = [0.0] * len(rows)
    totals = [sum(c.values()) for c in counts]
    for label in labels:
        widths = [(c.get(label, 0) / t if t else 0.0) for c, t in zip(counts, totals, strict=True)]
        ax.barh(y, widths, left=left, color=colours[label], edgecolor="white", linewidth=0.6, height=0.72, label=label)
        for i, w in enumerate(widths):
            if w >= min_share_text:  # narrower segments would not hold their number
                ax.text(left[i] + w / 2, i, f"{w:.0%}", ha="center", va="center", fontsize=8.5, color=text_colour(colours[label]))
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for i, total in enumerate(totals):
        ax.text(1.01, i, f"n={total}", ha="left", va="center", fontsize=8.5, color="#333333")
    ax.set_xlim(0, 1)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_yticks(y, [plain(r) for r in rows])
    ax.tick_params(axis="y", labelleft=show_rows)
    ax.xaxis.set_major_formatter(_percent_formatter())
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)


def _percent_formatter() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1.0, decimals=0)


def _legend_handles(labels: Sequence[str], colours: dict[str, str]) -> list[Any]:
    from matplotlib.patches import Patch

    return [Patch(facecolor=colours[label], edgecolor="#888888", linewidth=0.5, label=plain(label.replace("_", " "))) for label in labels]


def shares_by_group(
    groups: Sequence[str],
    targets: Sequence[str],
    counts: dict[str, dict[str, dict[str, int]]],
    labels: Sequence[str],
    colours: dict[str, str],
    *,
    group_names: dict[str, str],
    alt: str,
) -> Image:
    """Small multiples: one panel per target (three to a row), one 100 % bar per document or source."""
    import matplotlib

    columns = min(len(targets), 3)
    panel_rows = -(-len(targets) // columns)
    row_height = 0.7 + 0.34 * len(groups)
    with matplotlib.rc_context(_style()):
        fig = _figure(11.5, 0.5 + row_height * panel_rows)
        # not sharey: tick labels set on one panel of a shared axis would be overwritten by the next
        axes = fig.subplots(panel_rows, columns, squeeze=False)
        for index, target in enumerate(targets):
            ax = axes[index // columns][index % columns]
            _draw_share_bars(
                ax, [group_names[g] for g in groups], [counts[g][target] for g in groups], labels, colours,
                show_rows=index % columns == 0, min_share_text=0.07 * columns,
            )
            ax.set_title(plain(target), loc="left")
            ax.set_xticks([0, 0.5, 1.0])
        for index in range(len(targets), panel_rows * columns):
            axes[index // columns][index % columns].set_visible(False)
        fig.legend(handles=_legend_handles(labels, colours), loc="outside upper center", ncols=min(len(labels), 6))
        return _render(fig, alt)


def over_time(
    targets: Sequence[str],
    series: dict[str, Any],
    stance_labels: Sequence[str],
    colours: dict[str, str],
    *,
    bin_names: Sequence[str],
    alt: str,
) -> Image:
    """Per target, one 100 % column per time bin split by the stance labels (not_mentioned left out)
    among paragraphs that mention it, n above each column; columns of fewer than FEW paragraphs
    are pale and hatched, empty bins show n=0."""
    import matplotlib

    bins = len(bin_names)
    with matplotlib.rc_context(_style()):
        fig = _figure(11.5, 0.6 + 1.9 * len(targets))
        axes = fig.subplots(len(targets), 1, squeeze=False, sharex=True)
        for row, target in enumerate(targets):
            ax = axes[row][0]
            counts = series[target].counts
            totals = [sum(c.get(label, 0) for label in stance_labels) for c in counts]
            bottom = [0.0] * bins
            for label in stance_labels:
                heights = [(c.get(label, 0) / t if t else 0.0) for c, t in zip(counts, totals, strict=True)]
                alphas = [1.0 if t >= FEW else 0.4 for t in totals]
                for i, (h, a) in enumerate(zip(heights, alphas, strict=True)):
                    if h:
                        ax.bar(i, h, bottom=bottom[i], color=colours[label], alpha=a, width=0.8, edgecolor="white", linewidth=0.5,
                               hatch="//" if a < 1 else None)
                bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
            for i, total in enumerate(totals):
                ax.text(i, 1.03, f"n={total}", ha="center", va="bottom", fontsize=7.5 if bins > 12 else 8.5,
                        color="#333333" if total >= FEW else "#999999", rotation=90 if bins > 24 else 0)
            ax.set_ylim(0, 1.22 if bins <= 24 else 1.45)
            ax.set_yticks([0, 0.5, 1.0])
            ax.yaxis.set_major_formatter(_percent_formatter())
            ax.set_title(plain(target), loc="left")
        step = max(1, -(-bins // 30))
        axes[-1][0].set_xticks(range(0, bins, step), [bin_names[i] for i in range(0, bins, step)], rotation=45 if bins > 8 else 0, ha="right" if bins > 8 else "center")
        axes[-1][0].set_xlim(-0.6, bins - 0.4)
        fig.legend(handles=_legend_handles(stance_labels, colours), loc="outside upper center", ncols=min(len(stance_labels), 6))
        return _render(fig, alt)


def frame_bars(frames: Sequence[str], counts: dict[str, int], total: int, *, alt: str) -> Image:
    """Horizontal bars: paragraphs carrying each frame, most frequent first, with count and share."""
    import matplotlib

    ordered = sorted(frames, key=lambda f: (-counts.get(f, 0), frames.index(f)))
    with matplotlib.rc_context(_style()):
        fig = _figure(11.5, 0.6 + 0.3 * len(ordered))
        ax = fig.add_subplot()
        values = [counts.get(f, 0) for f in ordered]
        ax.barh(range(len(ordered)), values, color=FRAME_COLOUR, height=0.7)
        top = max(values) if values and max(values) else 1
        for i, value in enumerate(values):
            share = value / total if total else 0.0
            ax.text(value + top * 0.01, i, f"{value} ({share:.0%})", va="center", fontsize=8.5)
        ax.set_yticks(range(len(ordered)), [plain(f, 60) for f in ordered])
        ax.set_ylim(len(ordered) - 0.5, -0.5)
        ax.set_xlim(0, top * 1.15)
        ax.set_xlabel(f"paragraphs carrying the frame (of {total})")
        ax.tick_params(axis="y", length=0)
        return _render(fig, alt)


def frame_heatmaps(
    targets: Sequence[str],
    frames: Sequence[str],
    by_target: dict[str, dict[str, tuple[int, dict[str, int]]]],
    labels: Sequence[str],
    *,
    alt: str,
) -> Image:
    """Per target, frames (rows) x stance labels (columns): the share of that label's paragraphs carrying the frame."""
    import matplotlib
    import numpy as np

    columns = min(len(targets), 3)
    panel_rows = -(-len(targets) // columns)
    with matplotlib.rc_context(_style()):
        fig = _figure(11.5, 0.4 + (0.9 + 0.27 * len(frames)) * panel_rows)
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
            ax.set_xticks(range(len(labels)), [f"{plain(label.replace('_', ' '), 14)}\nn={t}" for label, t in zip(labels, totals, strict=True)], fontsize=8)
            ax.xaxis.tick_top()
            if index % columns == 0:
                ax.set_yticks(range(len(frames)), [plain(f, 30) for f in frames], fontsize=8)
            else:
                ax.set_yticks([])
            ax.set_title(plain(target), loc="left")
            for side in ("top", "right", "left", "bottom"):
                ax.spines[side].set_visible(False)
            ax.tick_params(length=0)
        for index in range(len(targets), panel_rows * columns):
            axes[index // columns][index % columns].set_visible(False)
        if image is not None:
            bar = fig.colorbar(image, ax=axes, shrink=0.5, format=_percent_formatter(), pad=0.01)
            bar.set_label("share of the label's paragraphs carrying the frame")
        return _render(fig, alt)


def confusion_matrices(targets: Sequence[str], matrices: dict[str, list[list[int]]], labels: dict[str, list[str]], *, alt: str) -> Image:
    """Per target, people (rows) x model (columns) counts; the diagonal is agreement."""
    import matplotlib
    import numpy as np

    columns = min(len(targets), 3)
    panel_rows = -(-len(targets) // columns)
    size = max(len(v) for v in labels.values()) if labels else 1
    with matplotlib.rc_context(_style()):
        fig = _figure(11.5, (1.4 + 0.5 * size) * panel_rows)
        axes = fig.subplots(panel_rows, columns, squeeze=False)
        for index, target in enumerate(targets):
            ax = axes[index // columns][index % columns]
            grid = np.array(matrices[target], dtype=float)
            names = [plain(label.replace("_", " "), 14) for label in labels[target]]
            ax.imshow(grid, cmap="Blues", vmin=0, vmax=max(grid.max(), 1), aspect="auto")
            for r in range(grid.shape[0]):
                for c in range(grid.shape[1]):
                    ax.text(c, r, f"{int(grid[r, c])}", ha="center", va="center", fontsize=9,
                            color="white" if grid[r, c] > 0.55 * max(grid.max(), 1) else "black", fontweight="bold" if r == c else None)
            ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
            ax.set_yticks(range(len(names)), names, fontsize=8)
            ax.set_xlabel("model")
            ax.set_ylabel("people")
            ax.set_title(plain(target), loc="left")
            ax.tick_params(length=0)
            for side in ("top", "right", "left", "bottom"):
                ax.spines[side].set_visible(False)
        for index in range(len(targets), panel_rows * columns):
            axes[index // columns][index % columns].set_visible(False)
        return _render(fig, alt)
