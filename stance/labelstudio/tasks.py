"""Predictions <-> Label Studio's JSON: the tasks and predictions push imports, the annotations pull exports.

Push: `task_for` turns a `Prediction` into a task (the paragraph, its context, its ids) that
carries the model's prediction (`prediction_for`): one `choices` item per target, one for the
frames. The review order: each prediction's `score` is `review_score`, the model's confidence
`min over targets of (p(top label) - p(second label))`, so a paragraph where any target was a
close call scores low. Projects are created with "Uncertainty sampling": annotators get the
lowest score (least certain) first. A paragraph mentioning no target scores 1.

Pull: `iter_annotation_records` reads Label Studio's JSON export and yields one `LabelledRecord`
per (paragraph, target, kept annotation). Labels are checked against the config both ways: a
prediction or an annotation with a label the config does not define is reported (task,
paragraph, label) and left out; the rest goes on.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from stance.config import StanceConfig
from stance.labelstudio import screen
from stance.labelstudio.xml import (
    AFTER_NAME,
    BEFORE_NAME,
    COMMENT_NAME,
    CONTEXT_NAME,
    FRAMES_NAME,
    FRAMES_VIEW_NAME,
    HEAD_NAME,
    MENTIONS_NAME,
    TEXT_NAME,
    UNSURE_NAME,
    UNSURE_VALUE,
    control_names,
    view_names,
)
from stance.mentions import MentionGate
from stance.records import LabelledRecord, Prediction

PARA_ID = "para_id"  # task data key of the paragraph id: push and pull match tasks to paragraphs by it
SHORT_FORMS = "short_forms"  # task data key: the short forms active in the document (the gate's context)
CONTEXT_CHARS = 240  # the end of the previous and the start of the next paragraph, this many characters
SCORE_DIGITS = 4


# -- predictions -> tasks -----------------------------------------------------------------------


def review_score(prediction: Prediction) -> float:
    """The prediction's `score`: the smallest margin between the top two labels over all targets.

    1 means every target was clear-cut; near 0 means at least one target was a coin toss.
    """
    return round(prediction.confidence(), SCORE_DIGITS)


def check_prediction(prediction: Prediction, config: StanceConfig) -> list[str]:
    """What makes a prediction unusable with this config (empty when it is fine)."""
    problems = []
    allowed = config.all_label_names
    for target in config.targets:
        result = prediction.stance.get(target.name)
        if result is None:
            problems.append(f"no prediction for target {target.name!r}")
        elif result.label not in allowed:
            problems.append(f"label {result.label!r} for target {target.name!r} is not one of {', '.join(allowed)}")
    configured = {t.name for t in config.targets}
    for name in prediction.stance:
        if name not in configured:
            problems.append(f"target {name!r} is not in the config")
    for frame in prediction.frame_labels:
        if frame not in config.frame_names:
            problems.append(f"frame {frame!r} is not in the config")
    return problems


def _choices(from_name: str, values: list[str]) -> dict[str, Any]:
    return {"from_name": from_name, "to_name": TEXT_NAME, "type": "choices", "value": {"choices": values}}


Spans = Mapping[str, Sequence[tuple[int, int]]]  # target name -> character spans of its mentions


def prediction_result(prediction: Prediction, config: StanceConfig, mentions: Spans | None = None) -> list[dict[str, Any]]:
    """Label Studio `result` items: one `choices` item per target, one for the frames (when any
    apply), and with `mentions` one region per mention of a target (what the screen marks)."""
    names = control_names(config)
    result = [_choices(names[t.name], [prediction.stance[t.name].label]) for t in config.targets]
    chosen = set(prediction.frame_labels)
    frames = [f for f in config.frame_names if f in chosen]
    if frames:
        result.append(_choices(FRAMES_NAME, frames))
    if mentions:
        result += mention_regions(prediction.text, mentions, config)
    return result


def prediction_for(prediction: Prediction, config: StanceConfig, mentions: Spans | None = None) -> dict[str, Any]:
    """A prediction in Label Studio's JSON shape."""
    return {
        "model_version": prediction.model_version, "score": review_score(prediction),
        "result": prediction_result(prediction, config, mentions),
    }


def gate_for(config: StanceConfig) -> MentionGate:
    """The alias gate the annotator uses (its spans are what the screen marks)."""
    return MentionGate(config.targets, dateline=config.gate.dateline, demonyms=config.gate.demonyms)


def mention_spans(text: str, config: StanceConfig, gate: MentionGate, context: frozenset[str] = frozenset()) -> dict[str, list[tuple[int, int]]]:
    """Per target, the character spans of its mentions that the gate finds (with the document's short forms);
    a span inside a longer one of the same target ("Wang" in "Wang Yi") is one mention, the longer."""
    return {t.name: _outermost(gate.spans(text, t, context)) for t in config.targets}


def _outermost(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    return [(s, e) for s, e in spans if not any(s2 <= s and e <= e2 and (s2, e2) != (s, e) for s2, e2 in spans)]


def mention_regions(text: str, mentions: Spans, config: StanceConfig) -> list[dict[str, Any]]:
    """One `labels` region per mention, in Label Studio's offsets (UTF-16 code units, as JavaScript counts)."""
    regions = []
    for target in config.targets:
        for start, end in mentions.get(target.name, ()):
            regions.append({
                "id": f"m{len(regions)}", "from_name": MENTIONS_NAME, "to_name": TEXT_NAME, "type": "labels", "readonly": True,
                "value": {"start": _utf16(text, start), "end": _utf16(text, end), "text": text[start:end], "labels": [target.name]},
            })
    return regions


def _utf16(text: str, offset: int) -> int:
    head = text[:offset]
    return offset if head.isascii() else len(head.encode("utf-16-le")) // 2


def task_for(
    prediction: Prediction, config: StanceConfig, before: str | None, after: str | None, *,
    context: frozenset[str] = frozenset(), gate: MentionGate | None = None, paragraphs_in_document: int | None = None,
    marks: bool = True,
) -> dict[str, Any]:
    """A Label Studio task: the paragraph, what the screen shows of it, its ids, and the model's prediction.

    `context` is the short forms active in the document before this paragraph (as the annotator
    had them: `stance.annotator.with_document_context`), so the marked mentions are the gate's;
    `marks=False` leaves the mention regions out (a project of an earlier layout has no group for them).
    """
    gate = gate or gate_for(config)
    spans = mention_spans(prediction.text, config, gate, context)
    data = {
        TEXT_NAME: prediction.text,
        PARA_ID: prediction.id,
        "doc_id": prediction.doc_id,
        "index": prediction.index,
        "date": prediction.date,
        "title": prediction.title,
        "source": prediction.source,
        "url": prediction.url,
        CONTEXT_NAME: " · ".join([prediction.title or "(no title)", prediction.date or "(no date)", prediction.source or "(no source)"]),
        BEFORE_NAME: f"Previous paragraph: {_tail(before)}" if before else "(first paragraph of the document)",
        AFTER_NAME: f"Next paragraph: {_head(after)}" if after else "(last paragraph of the document)",
        **screen_data(prediction, config, spans, paragraphs_in_document),
        SHORT_FORMS: sorted(context),
    }
    return {"data": data, "predictions": [prediction_for(prediction, config, spans if marks else None)]}


def screen_data(prediction: Prediction, config: StanceConfig, spans: Spans, paragraphs_in_document: int | None) -> dict[str, str]:
    """The screen's HTML pieces of a task: the head line, the model's view per target and of the frames."""
    data = {HEAD_NAME: screen.head_html(prediction, paragraphs_in_document)}
    for i, (target, key) in enumerate(view_names(config).items()):
        data[key] = screen.target_view_html(prediction.stance[target], config, screen.target_colour(i), len(spans.get(target, ())))
    if config.frame_names:
        data[FRAMES_VIEW_NAME] = screen.frames_view_html(prediction, config)
    return data


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= CONTEXT_CHARS else "…" + text[-CONTEXT_CHARS:].lstrip()


def _head(text: str) -> str:
    text = text.strip()
    return text if len(text) <= CONTEXT_CHARS else text[:CONTEXT_CHARS].rstrip() + "…"


# -- export -> labelled records -----------------------------------------------------------------


@dataclass
class ExportCounts:
    """What `iter_annotation_records` saw in an export, besides the records it yielded."""

    tasks: int = 0
    annotations: int = 0  # kept (not cancelled) annotations
    cancelled: int = 0
    skipped_tasks: int = 0  # tasks without a kept annotation
    unlabelled: int = 0  # targets an annotator left blank
    from_prediction: int = 0  # kept annotations that started from a prediction (Label Studio's parent_prediction)
    unsure: int = 0  # kept annotations flagged unsure
    comments: int = 0
    invalid: list[str] = field(default_factory=list)
    annotators: set[str] = field(default_factory=set)
    frames_compared: int = 0  # annotations with frames that started from a prediction
    frames_differing: int = 0

    @property
    def frames_changed(self) -> float | None:
        """The share of compared annotations whose frames differ from the model's."""
        return round(self.frames_differing / self.frames_compared, 4) if self.frames_compared else None


# LabelledRecord fields pull adds after the interchange ones, only when they apply
UNSURE_FIELD, COMMENT_FIELD, ADJUDICATED_FIELD = "unsure", "comment", "adjudicated"


def annotation_records(exported: Iterable[dict[str, Any]], config: StanceConfig) -> tuple[list[LabelledRecord], ExportCounts]:
    """All labelled records of an export, and the counts (see `iter_annotation_records`)."""
    counts = ExportCounts()
    return list(iter_annotation_records(exported, config, counts)), counts


def iter_annotation_records(exported: Iterable[dict[str, Any]], config: StanceConfig, counts: ExportCounts) -> Iterator[LabelledRecord]:
    """Labelled records from Label Studio's JSON export, counting into `counts` as it goes.

    One record per (paragraph, target, kept annotation), in export order: every person's
    annotation is kept; cancelled (skipped) annotations are counted and left out; a target the
    annotator left blank is counted as unlabelled, not taken as `not_mentioned`. `model_label` and
    `model_version` are the prediction the annotation started from (Label Studio's
    `parent_prediction`: the form opened with that prediction's choices); an annotation made on a
    blank form has none, so it never counts as a correction. The unsure flag, the comment and a
    reviewer's decision (a ground-truth annotation) ride along as `unsure`, `comment`, `adjudicated`.
    """
    names = control_names(config)
    allowed = set(config.all_label_names)
    frame_names = set(config.frame_names)
    known_controls = set(names.values()) | {FRAMES_NAME, UNSURE_NAME}
    for task in exported:
        counts.tasks += 1
        data = task.get("data") or {}
        para_id = data.get(PARA_ID)
        kept = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
        counts.cancelled += sum(1 for a in task.get("annotations") or [] if a.get("was_cancelled"))
        if not kept:
            counts.skipped_tasks += 1
            continue
        if not para_id:
            counts.invalid.append(f"task {task.get('id')}: no {PARA_ID} in its data (not pushed by stance); skipped")
            continue
        predictions = {p.get("id"): p for p in task.get("predictions") or [] if isinstance(p, dict)}
        for annotation in kept:
            counts.annotations += 1
            where = f"task {task.get('id')} (paragraph {para_id!r}), annotation {annotation.get('id')}"
            annotator = _annotator(annotation.get("completed_by"))
            counts.annotators.add(annotator)
            result = annotation.get("result") or []
            chosen = _choices_by_control(result)
            prediction = _prediction_started_from(annotation, predictions)
            counts.from_prediction += prediction is not None
            predicted = _choices_by_control(prediction.get("result") or []) if prediction else {}
            extra = _review_fields(chosen, result, annotation)
            counts.unsure += bool(extra.get(UNSURE_FIELD))
            counts.comments += COMMENT_FIELD in extra
            frames = chosen.get(FRAMES_NAME)
            bad_frames = [f for f in frames or [] if f not in frame_names]
            if bad_frames:
                counts.invalid.append(f"{where}: frame(s) {', '.join(map(repr, bad_frames))} not in the config; frames left out")
                frames = None
            if frames is not None and prediction:
                counts.frames_compared += 1
                counts.frames_differing += set(frames) != set(predicted.get(FRAMES_NAME) or [])
            for target in config.targets:
                values = chosen.get(names[target.name])
                if not values:
                    counts.unlabelled += 1
                    continue
                if len(values) != 1 or values[0] not in allowed:
                    counts.invalid.append(
                        f"{where}: label {values!r} for target {target.name!r} is not one of {', '.join(config.all_label_names)}; skipped"
                    )
                    continue
                model_values = predicted.get(names[target.name]) or []
                yield LabelledRecord(
                    id=para_id,
                    text=data.get(TEXT_NAME, ""),
                    target=target.name,
                    label=values[0],
                    source=where,
                    doc_id=data.get("doc_id"),
                    frames=tuple(f for f in config.frame_names if f in set(frames)) if frames is not None else None,
                    annotator=annotator,
                    updated_at=annotation.get("updated_at") or annotation.get("created_at"),
                    model_label=model_values[0] if len(model_values) == 1 else None,
                    model_version=prediction.get("model_version") if prediction else None,
                    annotation_id=annotation.get("id"),
                    extra={**extra, **({"index": data["index"]} if type(data.get("index")) is int else {})},  # for evaluate's document context
                )
            unknown = sorted(set(chosen) - known_controls)
            if unknown:
                counts.invalid.append(f"{where}: choice group(s) {', '.join(map(repr, unknown))} are not in the config; ignored")


def _review_fields(chosen: dict[str, list[str]], result: Sequence[dict[str, Any]], annotation: dict[str, Any]) -> dict[str, Any]:
    """`unsure`, `comment` and `adjudicated`, each only when it applies."""
    extra: dict[str, Any] = {}
    if UNSURE_VALUE in (chosen.get(UNSURE_NAME) or []):
        extra[UNSURE_FIELD] = True
    comment = "\n".join(
        str(line) for item in result
        if item.get("from_name") == COMMENT_NAME and isinstance(item.get("value"), dict)
        for line in item["value"].get("text") or []
    ).strip()
    if comment:
        extra[COMMENT_FIELD] = comment
    if annotation.get("ground_truth"):
        extra[ADJUDICATED_FIELD] = True
    return extra


def _annotator(completed_by: Any) -> str:
    if isinstance(completed_by, dict):
        return str(completed_by.get("email") or completed_by.get("id"))
    return str(completed_by)


def _choices_by_control(result: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    chosen: dict[str, list[str]] = {}
    for item in result:
        if item.get("type") == "choices" and isinstance(item.get("value"), dict):
            chosen[str(item.get("from_name"))] = [str(v) for v in item["value"].get("choices") or []]
    return chosen


def _prediction_started_from(annotation: dict[str, Any], predictions: dict[Any, dict[str, Any]]) -> dict[str, Any] | None:
    """The prediction whose choices the annotation's form opened with (`parent_prediction`), or None (a blank form)."""
    parent = annotation.get("parent_prediction")
    if parent is None:
        return None
    if parent in predictions:
        return predictions[parent]
    embedded = annotation.get("prediction")
    if isinstance(embedded, dict) and embedded.get("id") == parent and embedded.get("result"):
        return embedded
    return None


def iter_json_array(binary: IO[bytes], chunk_size: int = 1 << 20) -> Iterator[dict[str, Any]]:
    """The objects of a JSON array read from a file piece by piece (memory: one object plus a chunk).

    Raises ValueError when the file is not a JSON array of objects (also when that shows only
    after some objects were yielded).
    """
    import ijson  # a dependency of label-studio-sdk

    events = ijson.parse(binary, buf_size=chunk_size, use_float=True)
    try:
        first = next(events, None)
        if first is None or first[1] != "start_array":
            raise ValueError("it does not start with [")
        for item in ijson.items(itertools.chain([first], events), "item"):
            if not isinstance(item, dict):
                raise ValueError(f"an item is a {type(item).__name__}, not a task")
            yield item
    except ijson.JSONError as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
