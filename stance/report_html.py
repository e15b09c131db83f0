"""The report page: HTML with inline CSS and inline images, no script, no external request.

Every string that comes from the data (paragraph text, titles, sources, target, label and frame
names, annotator names, paths) passes through `esc` (html.escape, quotes included), so a
paragraph holding `<script>` shows as text. A Content-Security-Policy meta tag additionally
forbids scripts and any fetch other than inline `data:` images, as a second line of defence.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Sequence
from typing import Any

from stance import report_plots as plots
from stance.report import Example, ReportData, bin_label, confusion, shares

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'"
MAX_GROUPS = 30  # more documents or sources than this: the largest ones are plotted, the table lists all
MAX_TEXT_CHARS = 1200
MAX_TABLE_ROWS = 300  # per-document tables of a large corpus would make the page huge

CSS = """
:root { --ink: #1b1b1b; --muted: #5b5b5b; --line: #dcdcdc; --bg: #f7f7f5; --card: #ffffff; --accent: #0072B2; }
* { box-sizing: border-box; }
html { font-size: 16px; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif;
       line-height: 1.5; }
main { max-width: 1200px; margin: 0 auto; padding: 1.25rem 1.5rem 4rem; }
header.top { border-bottom: 3px solid var(--accent); margin-bottom: 1rem; padding-bottom: .5rem; }
h1 { font-size: 1.7rem; margin: .2rem 0 .2rem; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 .6rem; padding-top: .4rem; border-top: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
h4 { font-size: .95rem; margin: 1rem 0 .3rem; }
p, li { max-width: 80ch; }
.muted { color: var(--muted); }
.small { font-size: .88rem; }
.facts { display: flex; flex-wrap: wrap; gap: .5rem; margin: .8rem 0; padding: 0; list-style: none; }
.facts li { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .35rem .7rem; }
.facts b { font-size: 1.1rem; }
nav.toc { font-size: .92rem; }
nav.toc ul { display: flex; flex-wrap: wrap; gap: .2rem 1.4rem; padding: 0; margin: .4rem 0; list-style: none; }
nav.toc a { color: var(--accent); }
figure { margin: .6rem 0 1rem; background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .6rem; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { font-size: .88rem; color: var(--muted); margin-top: .4rem; }
.note { background: #fff8e1; border-left: 4px solid #E69F00; padding: .5rem .8rem; margin: .6rem 0; max-width: none; }
.table-wrap { overflow-x: auto; margin: .4rem 0 1rem; }
table { border-collapse: collapse; background: var(--card); font-size: .9rem; }
th, td { border: 1px solid var(--line); padding: .25rem .55rem; text-align: left; vertical-align: top; }
th { background: #efefec; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.diag { font-weight: 700; background: #eaf3fa; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: .8rem; margin: .4rem 0 1rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; overflow-wrap: anywhere; }
.card .doc { font-size: .82rem; color: var(--muted); margin-bottom: .3rem; }
.card .doc b { color: var(--ink); }
.card blockquote { margin: .3rem 0 .5rem; padding: 0 0 0 .6rem; border-left: 3px solid var(--line); font-size: .93rem;
                   white-space: pre-wrap; }
.scores { display: grid; grid-template-columns: max-content 1fr max-content; gap: .1rem .4rem; font-size: .8rem; align-items: center; }
.bar { height: .6rem; background: #eee; border-radius: 2px; overflow: hidden; }
.bar span { display: block; height: 100%; }
.chip { display: inline-block; border-radius: 3px; padding: 0 .35rem; font-size: .8rem; font-weight: 600; }
details { margin: .5rem 0; }
summary { cursor: pointer; color: var(--accent); }
pre { background: var(--card); border: 1px solid var(--line); padding: .6rem; overflow-x: auto; font-size: .8rem; max-height: 40rem; }
footer { margin-top: 3rem; font-size: .82rem; color: var(--muted); }
@media (max-width: 800px) { main { padding: .8rem; } .cards { grid-template-columns: 1fr; } }
"""


def esc(value: Any) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def pct(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}%}"


def num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def label_text(label: str) -> str:
    return label.replace("_", " ")


def render_page(data: ReportData) -> str:
    """The whole HTML document for `data`."""
    sections = [
        ("stance", "Stance per target", _stance_section(data)),
        ("by-group", "By source" if data.group.by == "source" else "By document", _group_section(data)),
        ("over-time", "Stance over time", _time_section(data)),
        ("frames", "Frames", _frames_section(data)),
        ("confident", "Most confident paragraphs", _confident_section(data)),
        ("uncertain", "Least certain paragraphs", _uncertain_section(data)),
        ("agreement", "Model vs people", _agreement_section(data)),
        ("run", "Run, model and config", _run_section(data)),
    ]
    toc = "".join(f'<li><a href="#{sid}">{esc(title)}</a></li>' for sid, title, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{esc(title)}</h2>{content}</section>' for sid, title, content in sections)
    title = f"Stance report: {data.run_dir.name or data.run_dir}"
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>"
        f'<header class="top"><h1>{esc(title)}</h1>'
        f'<div class="muted small">{esc(data.run_dir)} · generated {esc(generated)}</div>'
        f"{_facts(data)}"
        f'<nav class="toc" aria-label="Contents"><ul>{toc}</ul></nav></header>'
        f"{_warnings(data)}{body}"
        f'<footer>Made by <code>stance report</code>. One file: no script, no network; images are inline PNG.</footer>'
        "</main></body></html>\n"
    )


def _facts(data: ReportData) -> str:
    model = data.info.get("model", {}) if isinstance(data.info.get("model"), dict) else {}
    version = model.get("version") or _first(r.get("model_version") for r in data.records) or "unknown"
    dates = sorted(d for d in (r.get("date") for r in data.records) if d)
    span = f"{str(dates[0])[:10]} to {str(dates[-1])[:10]}" if dates else "no dates"
    items = [
        (len(data.records), "paragraphs"),
        (data.documents, "documents"),
        (len(data.targets), "targets"),
        (len(data.frames), "frames"),
    ]
    facts = "".join(f"<li><b>{esc(v)}</b> {esc(k)}</li>" for v, k in items)
    facts += f"<li>dates: <b>{esc(span)}</b></li><li>model: <code>{esc(version)}</code></li>"
    if data.agreement is not None:
        facts += f"<li><b>{data.agreement.annotations}</b> human labels</li>"
    return f'<ul class="facts">{facts}</ul>'


def _first(values: Any) -> Any:
    return next((v for v in values if v), None)


def _warnings(data: ReportData) -> str:
    notes = []
    status = data.info.get("status")
    if not data.info:
        notes.append("This run has no run.json: model, config and timings are unknown; the config below is " + esc(data.config_source) + ".")
    elif status and status != "complete":
        notes.append(f"run.json says the run is <b>{esc(status)}</b>: the report covers the {len(data.records)} paragraphs written so far.")
    if data.missing_targets:
        notes.append("Targets in the config but not in these predictions (left out): " + esc(", ".join(data.missing_targets)) + ".")
    if not data.records:
        notes.append("predictions.jsonl holds no paragraphs.")
    return "".join(f'<p class="note">{n}</p>' for n in notes)


def _img(image: plots.Image, caption: str) -> str:
    return (
        f'<figure><img src="{image.data_url}" width="{image.width}" height="{image.height}" alt="{esc(image.alt)}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _counts_table(rows: Sequence[tuple[str, dict[str, int]]], labels: Sequence[str], first: str) -> str:
    head = f"<th>{esc(first)}</th>" + "".join(f'<th class="num">{esc(label_text(label))}</th>' for label in labels) + '<th class="num">n</th>'
    body = ""
    for name, counts in rows:
        part = shares(counts)
        cells = "".join(f'<td class="num">{counts.get(label, 0)} <span class="muted">({pct(part.get(label, 0.0))})</span></td>' for label in labels)
        body += f"<tr><td>{esc(name)}</td>{cells}<td class=\"num\">{sum(counts.values())}</td></tr>"
    return f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _stance_section(data: ReportData) -> str:
    if not data.targets or not data.records:
        return '<p class="note">No predictions to show.</p>'
    rows = [(t, data.overall[t]) for t in data.targets]
    image = plots.stacked_shares(
        data.targets, [data.overall[t] for t in data.targets], data.labels, data.not_mentioned,
        alt="Share of paragraphs per stance label for each target",
    )
    return (
        f"<p>Each bar is one target: the share of the run's {len(data.records)} paragraphs with each label."
        f" <i>{esc(label_text(data.not_mentioned))}</i> means the paragraph does not name the target.</p>"
        + _img(image, "Share of paragraphs per label; n = paragraphs.")
        + _counts_table(rows, data.labels, "target")
    )


def _group_section(data: ReportData) -> str:
    if not data.by_group:
        return '<p class="note">No documents or sources to group by.</p>'
    group = data.group
    if group.by == "source":
        intro = "Per source (outlet), the share of its paragraphs with each label, one panel per target."
        if group.missing:
            intro += f" {group.missing} paragraphs have no source and are left out."
    else:
        intro = (
            "This run has <b>no sources</b> (the inputs gave none), so paragraphs are grouped <b>by document</b>"
            " (title and date, or the document id). Give a source field or column to see outlets here."
        )
    keys = list(data.by_group)
    shown = keys[:MAX_GROUPS]
    out = f"<p>{intro}</p>"
    if data.targets:
        image = plots.shares_by_group(
            shown, data.targets, data.by_group, data.labels, data.not_mentioned, group_names=group.labels,
            alt=f"Share of paragraphs per label for each {group.by} and target",
        )
        caption = f"Share of paragraphs per label, per {esc(group.by)}; n = paragraphs of that {esc(group.by)}."
        if len(keys) > len(shown):
            caption += f" The {len(shown)} largest of {len(keys)} are plotted; the table lists all."
        out += _img(image, caption)
    for target in data.targets:
        rows = [(group.labels.get(k, k), data.by_group[k][target]) for k in keys[:MAX_TABLE_ROWS]]
        more = f"<p class='muted small'>The {MAX_TABLE_ROWS} largest of {len(keys)} are listed.</p>" if len(keys) > MAX_TABLE_ROWS else ""
        out += (
            f"<details><summary>Table: {esc(target)} per {esc(group.by)}</summary>"
            f"{_counts_table(rows, data.labels, group.by)}{more}</details>"
        )
    return out


def _time_section(data: ReportData) -> str:
    dated = len(data.records) - data.undated
    if not data.targets:
        return '<p class="note">No target of the config appears in these predictions.</p>'
    if not data.over_time or dated == 0:
        return (
            '<p class="note">No paragraph in this run has a date, so there is no time view.'
            " Dates come from a date field or column, or a <code>date YYYY-MM-DD</code> header in text files.</p>"
        )
    unit = data.time_unit
    first = next(iter(data.over_time.values()))
    names = [bin_label(b, unit) for b in first.bins]
    image = plots.over_time(
        data.targets, data.over_time, data.labels, data.not_mentioned, bin_names=names,
        alt=f"Stance per {unit} for each target",
    )
    why = {
        "week": "The dates span at most 16 weeks, so the bins are ISO weeks (Monday to Sunday).",
        "month": "The dates span more than 16 weeks, so the bins are calendar months.",
        "year": "The dates span more than six years, so the bins are calendar years.",
    }[unit]
    text = (
        f"<p>{why} Each column is the stance of the paragraphs that mention the target in that {unit}; "
        f"n is their number. Columns of fewer than {plots.FEW} paragraphs are pale and hatched: read them as anecdotes, "
        "not trends. Empty bins are kept (n=0) so gaps stay visible.</p>"
    )
    if data.undated:
        text += f'<p class="note">{data.undated} of {len(data.records)} paragraphs have no date and are left out of this view.</p>'
    return text + _img(image, f"Stance per {esc(unit)}; bars from fewer than {plots.FEW} paragraphs are pale and hatched.")


def _frames_section(data: ReportData) -> str:
    if not data.frames:
        return '<p class="note">Frames were not scored in this run (frames disabled in the config), so there is nothing to show.</p>'
    threshold = data.config.frames.threshold
    stance_labels = [label for label in data.labels if label != data.not_mentioned]
    out = (
        f"<p>A paragraph carries a frame when the frame's score is at least {threshold:g}; a paragraph can carry several.</p>"
        + _img(
            plots.frame_bars(data.frames, data.frame_totals, len(data.records), alt="Paragraphs per frame"),
            "Paragraphs per frame, over the whole run.",
        )
        + "<h3>Frames per target and stance</h3><p>For each target, the share of the paragraphs with each stance label that carry"
        " each frame (n = paragraphs with that label). Compare a column with its neighbours to see which frames go with which coverage.</p>"
    )
    carried = sorted((f for f in data.frames if data.frame_totals.get(f)), key=lambda f: -data.frame_totals[f])
    never = [f for f in data.frames if not data.frame_totals.get(f)]
    if data.targets and carried:
        caption = "Share of a label's paragraphs carrying each frame (frames most frequent first); – marks a label no paragraph has."
        if never:
            caption += " Frames no paragraph carries are left out: " + esc(", ".join(never)) + "."
        out += _img(
            plots.frame_heatmaps(data.targets, carried, data.frames_by_target, stance_labels, alt="Frame share per target and stance label"),
            caption,
        )
    negative = data.negative
    out += (
        f"<h3>Frames of <i>{esc(label_text(negative))}</i> coverage</h3>"
        f"<p>Per target: the most common frames of paragraphs labelled <i>{esc(label_text(negative))}</i>, against all paragraphs that mention the target."
        " Lift above 1: the frame is more common in that coverage than in the target's coverage overall."
        " Small counts make large lifts: read them with n.</p>"
    )
    for target in data.targets:
        rows = data.cooccurrence[target][:8]
        total = data.overall[target].get(negative, 0)
        if not rows:
            out += f"<h4>{esc(target)}</h4><p class='muted'>No paragraph is labelled {esc(label_text(negative))} for {esc(target)}.</p>"
            continue
        body = "".join(
            f"<tr><td>{esc(r.frame)}</td><td class='num'>{r.with_label} of {r.label_total} ({pct(r.share_in_label)})</td>"
            f"<td class='num'>{r.with_target} of {r.target_total} ({pct(r.share_in_target)})</td><td class='num'>{num(r.lift)}</td></tr>"
            for r in rows
        )
        out += (
            f"<h4>{esc(target)} <span class='muted small'>({total} {esc(label_text(negative))} paragraphs)</span></h4>"
            f"<div class='table-wrap'><table><thead><tr><th>frame</th><th class='num'>in {esc(label_text(negative))}</th>"
            f"<th class='num'>in all coverage</th><th class='num'>lift</th></tr></thead><tbody>{body}</tbody></table></div>"
        )
    return out


def _card(example: Example, data: ReportData, colours: dict[str, str]) -> str:
    record = example.record
    result = record["stance"][example.target]
    title = record.get("title") or record.get("doc_id") or ""
    where = [f"<b>{esc(title)}</b>"]
    for key in ("source", "date"):
        if record.get(key):
            where.append(esc(str(record[key])[:40]))
    where.append(f"paragraph {esc(record.get('index', '?'))}")
    if record.get("title") and record.get("doc_id"):
        where.append(f"<code>{esc(record['doc_id'])}</code>")
    text = str(record.get("text") or "")
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS].rstrip() + " …"
    rows = ""
    for label, score in sorted(result["scores"].items(), key=lambda kv: -kv[1]):
        if label == data.not_mentioned and not score:
            continue
        colour = colours.get(label, "#666666")
        width = max(0.0, min(1.0, float(score))) * 100
        rows += (
            f"<span>{esc(label_text(label))}</span><div class='bar'><span style='width:{width:.1f}%;background:{colour}'></span></div>"
            f"<span class='num'>{float(score):.3f}</span>"
        )
    colour = colours.get(example.label, "#666666")
    chip = f"<span class='chip' style='background:{colour};color:{plots.text_colour(colour)}'>{esc(label_text(example.label))}</span>"
    frames = ", ".join(record.get("frame_labels") or []) or "none"
    return (
        f"<div class='card'><div class='doc'>{' · '.join(where)}</div><blockquote>{esc(text)}</blockquote>"
        f"<div class='small'>{chip} margin {example.margin:.3f} · frames: {esc(frames)}</div>"
        f"<div class='scores'>{rows}</div></div>"
    )


def _confident_section(data: ReportData) -> str:
    colours = plots.label_colours(data.labels, data.not_mentioned)
    out = (
        "<p>For each target and label, the paragraphs the model gave that label with the highest score: good for checking that"
        " a label means what it should. Scores are the model's probabilities over the labels.</p>"
    )
    for target in data.targets:
        out += f"<h3>{esc(target)}</h3>"
        for label, examples in data.confident[target].items():
            out += f"<h4>{esc(label_text(label))}</h4>"
            if not examples:
                out += f"<p class='muted small'>No paragraph is labelled {esc(label_text(label))} for {esc(target)}.</p>"
                continue
            out += "<div class='cards'>" + "".join(_card(e, data, colours) for e in examples) + "</div>"
    return out


def _uncertain_section(data: ReportData) -> str:
    colours = plots.label_colours(data.labels, data.not_mentioned)
    out = (
        "<p>Per target, the paragraphs where the model could hardly choose (smallest margin between its two top labels):"
        " the ones worth a human look first. Paragraphs that do not name the target are left out (the alias gate decides those).</p>"
    )
    for target in data.targets:
        examples = data.uncertain[target]
        out += f"<h3>{esc(target)}</h3>"
        if not examples:
            out += f"<p class='muted small'>The model scored no paragraph for {esc(target)}.</p>"
            continue
        out += "<div class='cards'>" + "".join(_card(e, data, colours) for e in examples) + "</div>"
    return out


def _agreement_section(data: ReportData) -> str:
    result = data.agreement
    if result is None:
        return (
            "<p class='muted'>No annotations were given. Pull reviewed labels from Label Studio and run "
            "<code>stance report RUN_DIR --annotations FILE</code> to compare the model with people here.</p>"
        )
    out = (
        f"<p>{result.annotations} human labels from <code>{esc(data.annotations_path)}</code>: {result.paragraphs} paragraphs of this run,"
        f" {result.annotators} annotator(s). Accuracy, Cohen's kappa and the confusion matrices compare this run's labels with people's;"
        " the correction rate is the share of labels people changed from the pre-label they were shown.</p>"
    )
    if result.not_in_run:
        out += f"<p class='note'>{result.not_in_run} annotations are for paragraphs this run does not hold; they are left out.</p>"
    if result.unknown_targets:
        out += f"<p class='note'>Annotations for targets this report does not show were left out: {esc(', '.join(result.unknown_targets))}.</p>"
    if not result.targets:
        return out + "<p class='note'>No annotation matches a paragraph and target of this run.</p>"
    body = "".join(
        f"<tr><td>{esc(t.target)}</td><td class='num'>{t.n}</td><td class='num'>{pct(t.accuracy, 1)}</td>"
        f"<td class='num'>{num(t.kappa, 3)}</td><td class='num'>{t.corrections} ({pct(t.correction_rate, 1)})</td></tr>"
        for t in result.targets
    )
    out += (
        "<div class='table-wrap'><table id='agreement-table'><thead><tr><th>target</th><th class='num'>labels</th><th class='num'>accuracy</th>"
        "<th class='num'>Cohen's kappa</th><th class='num'>corrected</th></tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
        f"<p>Paragraphs with any correction (a stance of any target, or the frames): <b>{result.paragraphs_corrected}</b> of"
        f" {result.paragraphs} ({pct(result.paragraphs_corrected / result.paragraphs if result.paragraphs else None, 1)})."
    )
    if result.frames_compared:
        out += f" Frames changed on {result.frames_corrected} of {result.frames_compared} paragraphs whose frames were reviewed."
    out += "</p>"
    matrices: dict[str, list[list[int]]] = {}
    used: dict[str, list[str]] = {}
    for t in result.targets:
        present = set(t.human) | set(t.model)
        used[t.target] = [label for label in t.labels if label in present]
        matrices[t.target] = confusion(t.human, t.model, used[t.target])
    names = [t.target for t in result.targets]
    out += _img(
        plots.confusion_matrices(names, matrices, used, alt="Confusion matrices of people against the model per target"),
        "Rows: people's label; columns: the model's; the diagonal is agreement.",
    )
    return out


def _run_section(data: ReportData) -> str:
    info = data.info
    model = info.get("model") if isinstance(info.get("model"), dict) else {}
    counts = info.get("counts") if isinstance(info.get("counts"), dict) else {}
    timings = info.get("timings") if isinstance(info.get("timings"), dict) else {}
    cfg = data.config
    rows = [
        ("model backend", model.get("backend")),
        ("model name", model.get("name")),
        ("model version", model.get("version") or _first(r.get("model_version") for r in data.records)),
        ("engine", info.get("engine")),
        ("status", info.get("status")),
        ("paragraphs", counts.get("paragraphs", len(data.records))),
        ("documents", counts.get("documents", data.documents)),
        ("input files", len(info.get("inputs") or []) or None),
        ("scoring rate", f"{timings['paragraphs_per_second']} paragraphs/s" if timings.get("paragraphs_per_second") else None),
        ("model load", f"{timings['model_load_seconds']} s" if timings.get("model_load_seconds") is not None else None),
        ("targets", ", ".join(data.targets)),
        ("labels", ", ".join(data.labels)),
        ("alias gate", "on" if cfg.gate.enabled else "off"),
        ("frames", f"{len(data.frames)} (threshold {cfg.frames.threshold:g})" if data.frames else "not scored"),
        ("config used for the report", data.config_source),
        ("config fingerprint", cfg.fingerprint()),
        ("python / torch / transformers", " / ".join(str((info.get("environment") or {}).get(k) or "?") for k in ("python", "torch", "transformers"))
         if info.get("environment") else None),
    ]
    table = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows if v not in (None, ""))
    out = f"<div class='table-wrap'><table>{table}</table></div>"
    problems = info.get("problems") or []
    if problems:
        items = "".join(f"<li>{esc(p.get('level'))}: {esc(p.get('where'))}: {esc(p.get('message'))}</li>" for p in problems if isinstance(p, dict))
        out += f"<details><summary>{len(problems)} input problem(s) reported by the run</summary><ul>{items}</ul></details>"
    inputs = info.get("inputs") or []
    if inputs:
        items = "".join(f"<li><code>{esc(f.get('path'))}</code> <span class='muted'>{esc(f.get('bytes'))} bytes</span></li>" for f in inputs[:200] if isinstance(f, dict))
        more = f"<li>… and {len(inputs) - 200} more</li>" if len(inputs) > 200 else ""
        out += f"<details><summary>Input files ({len(inputs)})</summary><ul class='small'>{items}{more}</ul></details>"
    full = json.dumps(cfg.model_dump(mode="json", exclude={"labelstudio"}), indent=2, ensure_ascii=False)
    out += f"<details><summary>Full config</summary><pre>{esc(full)}</pre></details>"
    return out
