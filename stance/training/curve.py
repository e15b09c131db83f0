"""`stance train --curve`: how the model improves with more labels (Prodigy's train-curve).

The training records are split once into train and dev (grouped by document); models are
trained on the first 25, 50, 75 and 100% of the training part (in a fixed, seeded order of
documents) and judged on the same dev records, so the points differ only in how much data they
saw. A curve still rising at 100% says more labels will help.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from stance.config import StanceConfig
from stance.errors import TrainingError
from stance.fileio import dumps_line
from stance.labelled import document_groups
from stance.training.data import read_training_files, split_stance
from stance.training.train import TrainSettings, train_model

SHARES = (0.25, 0.5, 0.75, 1.0)


@dataclass
class CurvePoint:
    share: float
    records: int
    macro_f1: float
    accuracy: float
    f_avg: float | None
    seconds: float


def train_curve(files: list[Path], config: StanceConfig, settings: TrainSettings, *, shares: tuple[float, ...] = SHARES,
                plot: Path | None = None, progress: bool = True) -> list[CurvePoint]:
    """Train on growing shares of the training records; macro-F1 on one fixed dev split."""
    from stance.evaluate import evaluate_records

    data = read_training_files(files, config, conflicts=settings.conflicts)
    split = split_stance(data.stance, settings.dev_fraction, settings.seed)
    if len(split.dev) < 10:
        raise TrainingError(f"the dev split holds {len(split.dev)} records; a curve needs at least 10 (more labelled data, or a larger --dev-fraction)")
    groups = document_groups(split.train)
    order = list(dict.fromkeys(groups))  # documents in file order
    points = []
    with tempfile.TemporaryDirectory(prefix="stance-curve-") as scratch:
        for share in shares:
            keep = set(order[: max(1, round(share * len(order)))])
            part = [r for r, g in zip(split.train, groups, strict=True) if g in keep]
            path = Path(scratch) / f"train-{share:.2f}.jsonl"
            path.write_text("".join(dumps_line(r.to_json()) for r in part), encoding="utf-8")
            result = train_model([path], Path(scratch) / f"model-{share:.2f}", config, settings, progress=False, frames=False)
            overall = evaluate_records(str(result.out_dir), split.dev, config, progress=False).metrics["model"]["overall"]
            points.append(CurvePoint(share, len(part), overall["macro_f1"], overall["accuracy"], overall["f_avg"], result.seconds))
            if progress:
                print(f"curve: {share:.0%} ({len(part)} records): dev macro-F1 {overall['macro_f1']:.3f}", file=sys.stderr, flush=True)
    if plot is not None:
        plot_curve(points, len(split.dev), plot)
    return points


def plot_curve(points: list[CurvePoint], dev_records: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 3.2))
    axes = figure.subplots()
    axes.plot([p.records for p in points], [p.macro_f1 for p in points], marker="o", color="#0072B2")
    for p in points:
        axes.annotate(f"{p.macro_f1:.3f}", (p.records, p.macro_f1), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    axes.set_xlabel("training records")
    axes.set_ylabel(f"dev macro-F1 (n={dev_records})")
    axes.set_title("stance train --curve", fontsize=9)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


def format_curve(points: list[CurvePoint]) -> str:
    lines = ["share  records  dev macro-F1  accuracy  F_avg  seconds"]
    for p in points:
        f_avg = f"{p.f_avg:.3f}" if p.f_avg is not None else "n/a"
        lines.append(f"{p.share:>5.0%}  {p.records:>7}  {p.macro_f1:>12.3f}  {p.accuracy:>8.3f}  {f_avg:>5}  {p.seconds:>7.1f}")
    if len(points) >= 2:
        gain = points[-1].macro_f1 - points[-2].macro_f1
        lines.append(f"last step: {gain:+.3f} macro-F1; " + ("still rising: more labels should help" if gain > 0.005 else "flat: more labels of this kind add little"))
    return "\n".join(lines)
