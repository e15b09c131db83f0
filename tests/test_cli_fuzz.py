"""No input gives a traceback: the command line fuzzed over paths, files and option values.

Whatever the arguments (missing, empty, binary, non-UTF-8 or broken files, folders where files
are expected and files where folders are, option values of the wrong kind), every command ends
with exit code 0 or 2, and a failure is one clear message (`error: ...` naming the file, or
Click's usage message), never a Python traceback.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import write_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from stance.cli import app

pytestmark = [pytest.mark.model, pytest.mark.slow]
runner = CliRunner()
EXAMPLES = 250


@dataclass(frozen=True)
class Playground:
    """Files and folders of every kind the fuzzer passes, all under one temporary folder."""

    root: Path
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    configs: tuple[str | None, ...]
    ls_configs: tuple[str, ...]
    models: tuple[str | None, ...]
    golds: tuple[str, ...]
    runs: tuple[str, ...]
    bases: tuple[str, ...]
    env: dict[str, str]


def make_playground(root: Path, seeds_run: Path, seeds_dir: Path, tiny_nli_model_dir: Path) -> Playground:
    from stance.labelstudio.server import free_port

    def file(name: str, data: bytes | str) -> str:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return str(path)

    story = "China and Russia signed a trade deal on Monday.\n\nThe United States said it would respond."
    good_txt = file("in/story.txt", story)
    good_jsonl = file("in/batch.jsonl", json.dumps({"id": "n1", "text": story, "date": "yesterday"}) + "\n")
    bad_jsonl = file("in/broken.jsonl", json.dumps({"id": "n1", "text": story})[:-1] + "\n")
    latin1 = file("in/latin1.txt", "Caf\xe9 in Moscow.".encode("latin-1"))
    nul = file("in/nul.txt", b"China\x00Russia")
    empty = file("in/empty.txt", "")
    csv_bad = file("in/rows.csv", 'story,body\n"unterminated,x\n')
    pdf = file("in/paper.pdf", b"%PDF-1.4")
    (root / "in" / "nothing-here").mkdir()
    loop = root / "in" / "loop"
    loop.symlink_to(loop)
    blocker = file("taken.txt", "a file where a folder is expected")
    run_copy = root / "runs" / "seeds"
    shutil.copytree(seeds_run, run_copy)
    (root / "runs" / "empty").mkdir(parents=True)
    gold = [json.loads(line) for line in (Path(__file__).parent / "fixtures" / "seed_gold.jsonl").read_text(encoding="utf-8").splitlines()]
    good_gold = file("gold/good.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in gold[:3]))
    bad_gold = file("gold/no-label.jsonl", json.dumps({"id": "x", "text": "China.", "target": "China"}) + "\n")
    odd_label = file("gold/odd-label.jsonl", json.dumps({"id": "x", "text": "China.", "target": "China", "label": "maybe"}) + "\n")
    configs = {
        "good": str(write_config(root / "cfg" / "good.yaml", "")) if (root / "cfg").mkdir() is None else "",
        "latin1": file("cfg/latin1.yaml", "targets:\n  - name: Ch\xe9na\n".encode("latin-1")),
        "empty": file("cfg/empty.yaml", ""),
        "list": file("cfg/list.yaml", "- a\n- b\n"),
        "not-yaml": file("cfg/broken.yaml", "targets: [China\n  model: {"),
        "unknown-key": str(write_config(root / "cfg" / "unknown.yaml", "colour: blue\n")),
        "bad-extends": file("cfg/extends.yaml", "extends: nowhere.yaml\n"),
        "cycle": file("cfg/cycle.yaml", "extends: cycle.yaml\n"),
        "tiny-nli": str(write_config(root / "cfg" / "tiny.yaml", f"model:\n  backend: nli\n  name: {tiny_nli_model_dir}\n  max_length: 64\n")),
        "key-file": str(write_config(root / "cfg" / "keyfile.yaml", f"labelstudio:\n  api_key_file: {latin1}\n  max_retries: 0\n")),
    }
    ls = str(write_config(root / "cfg" / "ls.yaml", "labelstudio:\n  max_retries: 0\n  timeout: 5\n"))
    paths = [good_txt, good_jsonl, bad_jsonl, latin1, nul, empty, csv_bad, pdf, str(root / "in"), str(root / "in" / "nothing-here"), str(loop),
             str(root / "missing.txt"), f"{blocker}/inside.txt", "", str(root / ("long" * 80) / "x.txt"), str(root / "čšž" / "ü.txt")]
    outputs = [str(root / "out" / "fresh"), blocker, f"{blocker}/sub", str(run_copy), str(root / "out" / "deep" / "er" / "x"),
               str(root / "in"), str(root / "out" / "file.jsonl"), str(root / ("long" * 80)), str(root / "out" / "report.html")]
    return Playground(
        root=root, inputs=tuple(paths), outputs=tuple(outputs),
        configs=(None, *configs.values(), str(root / "missing.yaml"), str(root / "cfg"), latin1),
        ls_configs=(ls, configs["latin1"], configs["key-file"], str(root / "missing.yaml")),
        models=(None, str(root / "no-model"), good_txt, str(root / "runs" / "empty"), "bundled:nope", "nobody/no-such-model", str(tiny_nli_model_dir)),
        golds=(good_gold, bad_gold, odd_label, latin1, bad_jsonl, empty, str(root / "gold"), str(root / "missing.jsonl")),
        runs=(str(run_copy), str(root / "runs" / "empty"), good_txt, str(root / "missing-run"), str(root / "in")),
        bases=(str(root / "no-base"), good_txt, "bundled:nope", str(root / "runs" / "empty")),
        env={"LABEL_STUDIO_URL": f"http://127.0.0.1:{free_port()}", "LABEL_STUDIO_API_KEY": "fuzz-key", "HF_HUB_OFFLINE": "1"},
    )


@pytest.fixture(scope="module")
def playground(tmp_path_factory, seeds_run, seeds_dir, tiny_nli_model_dir):
    return make_playground(tmp_path_factory.mktemp("fuzz"), seeds_run[0], seeds_dir, tiny_nli_model_dir)


@pytest.fixture(scope="module", autouse=True)
def models_load_once():
    """A model that loads is loaded once (the fuzzer asks for the same few many times); one that does
    not load fails every time, as it would."""
    import stance.scoring
    import stance.scoring.factory

    real = stance.scoring.factory.build_scorer
    loaded = {}

    def build_scorer(config, model=None):
        key = (config.fingerprint(), model)
        if key not in loaded:
            loaded[key] = real(config, model)
        return loaded[key]

    patch = pytest.MonkeyPatch()
    patch.setattr(stance.scoring.factory, "build_scorer", build_scorer)
    patch.setattr(stance.scoring, "build_scorer", build_scorer)
    yield
    patch.undo()


VALUES = st.sampled_from(["", "0", "1", "3", "-1", "abc", "1e9", "99999999999999999999", "fail", "skip", "local", "uncertainty", "document",
                          "random", "é", "--", "-x", "text", "id", "body", "0.5", " "])


def command_line(pg: Playground) -> st.SearchStrategy[list[str]]:
    """A random command line of one of stance's commands, its arguments from the playground: the
    required arguments are there most of the time, so that the commands get past their parsing."""

    def opt(name: str, values) -> st.SearchStrategy[list[str]]:
        return st.one_of(st.just([]), values.map(lambda v: [name, v]))

    def usually(name: str, values) -> st.SearchStrategy[list[str]]:
        return st.one_of(values.map(lambda v: [name, v]), values.map(lambda v: [name, v]), values.map(lambda v: [name, v]), st.just([]))

    def flag(name: str) -> st.SearchStrategy[list[str]]:
        return st.sampled_from([[], [name]])

    def seq(*parts) -> st.SearchStrategy[list[str]]:
        return st.tuples(*parts).map(lambda lists: [item for part in lists for item in part])

    paths, outputs, configs = st.sampled_from(pg.inputs), st.sampled_from(pg.outputs), st.sampled_from([c for c in pg.configs if c])
    some_paths = st.lists(paths, min_size=1, max_size=2)
    annotate = seq(st.just(["annotate"]), some_paths, usually("--out", outputs), opt("--config", configs),
                   opt("--model", st.sampled_from([m for m in pg.models if m])), flag("--overwrite"), opt("--on-error", VALUES),
                   opt("--text-field", VALUES), opt("--chunk-size", VALUES), st.just(["--no-progress"]))
    validate = seq(st.just(["validate-config"]), st.one_of(configs, paths).map(lambda c: [c]))
    report = seq(st.just(["report"]), st.sampled_from(pg.runs).map(lambda r: [r]), opt("--out", outputs),
                 opt("--annotations", st.sampled_from(pg.golds)), opt("--config", configs), opt("--examples", VALUES))
    evaluate = seq(st.just(["evaluate"]), st.sampled_from([*pg.runs, "config", "nope", "nli", "embedding", *pg.golds]).map(lambda m: [m]),
                   usually("--gold", st.sampled_from(pg.golds)), opt("--out", outputs), opt("--config", configs), st.just(["--no-progress"]))
    train = seq(st.just(["train"]), st.lists(st.sampled_from([*pg.golds, *pg.inputs]), min_size=1, max_size=2), usually("--out", outputs),
                st.sampled_from(pg.bases).map(lambda b: ["--base", b]), opt("--max-steps", VALUES), opt("--conflicts", VALUES),
                opt("--config", configs), st.just(["--no-progress"]))
    push = seq(st.just(["push"]), st.sampled_from(pg.runs).map(lambda r: [r]), opt("--limit", VALUES), opt("--order", VALUES),
               opt("-p", VALUES), st.sampled_from(pg.ls_configs).map(lambda c: ["-c", c]), st.just(["--no-progress"]))
    pull = seq(st.just(["pull"]), usually("--out", outputs), opt("-p", VALUES), flag("--overwrite"),
               st.sampled_from(pg.ls_configs).map(lambda c: ["-c", c]))
    labelstudio = seq(st.just(["labelstudio", "config"]), opt("-c", configs))
    junk = st.sampled_from([[]] * 12 + [["--nope"], ["extra-argument"], ["--config"]])
    return st.tuples(st.one_of(annotate, validate, report, evaluate, train, push, pull, labelstudio), junk).map(lambda t: t[0] + t[1])


def check(pg: Playground, args: list[str]) -> None:
    result = runner.invoke(app, args, env=pg.env)
    described = f"stance {' '.join(repr(a) for a in args)}\n{result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), f"{described}\n{result.exception!r}"
    assert result.exit_code in (0, 2), described
    assert "Traceback" not in result.output, described
    if result.exit_code == 2:
        assert "error" in result.output.lower() or "Usage:" in result.output, described


def test_fuzzed_command_lines_give_a_message_never_a_traceback(playground):
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(command_line(playground))
    def fuzz(args):
        check(playground, args)

    fuzz()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["annotate", "{in}/story.txt", "--out", "{root}/taken.txt"], "taken.txt is a file; expected a directory for the run"),
        (["annotate", "{in}/story.txt", "--out", "{root}/taken.txt/sub"], "taken.txt (in the path of --out"),
        (["validate-config", "{root}/cfg/latin1.yaml"], "latin1.yaml: not valid UTF-8 at byte 21"),
        (["annotate", "{in}/story.txt", "--out", "{root}/out/x", "-c", "{root}/cfg/latin1.yaml"], "expected a YAML config in UTF-8"),
        (["annotate", "{in}/broken.jsonl", "--out", "{root}/out/broken"], "broken.jsonl:1: not valid JSON (Expecting ',' delimiter at column"),
        (["report", "{root}/runs/seeds", "--out", "{root}/in"], "is a folder; expected a file"),
    ],
)
def test_the_cases_the_issue_found_are_clear_messages(playground, args, expected):
    args = [a.format(root=playground.root, **{"in": playground.root / "in"}) for a in args]
    result = runner.invoke(app, args, env=playground.env)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # an ordinary exit, not an exception
    assert expected in result.output and "Traceback" not in result.output, result.output


def test_a_broken_record_is_reported_at_its_real_column(playground):
    result = runner.invoke(app, ["annotate", str(playground.root / "in" / "broken.jsonl"), "--out", str(playground.root / "out" / "col")])
    story = "China and Russia signed a trade deal on Monday.\n\nThe United States said it would respond."
    column = len(json.dumps({"id": "n1", "text": story}))  # the closing brace is missing: the error is just past the line's end
    assert result.exit_code == 2
    assert f"broken.jsonl:1: not valid JSON (Expecting ',' delimiter at column {column})" in result.output, result.output


def test_an_unparseable_date_is_a_warning_with_file_and_line(playground, tmp_path):
    result = runner.invoke(app, ["annotate", str(playground.root / "in" / "batch.jsonl"), "--out", str(tmp_path / "run"), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "warning" in result.output and "batch.jsonl:1: field 'date' is 'yesterday', which is not a date" in result.output
    problems = json.loads((tmp_path / "run" / "run.json").read_text(encoding="utf-8"))["problems"]
    assert problems == [{"where": f"{playground.root / 'in' / 'batch.jsonl'}:1", "message": problems[0]["message"], "level": "warning"}]


def test_a_no_space_or_permission_failure_the_library_did_not_foresee_is_still_a_message(playground, monkeypatch):
    import errno

    import stance.cli.annotate

    def fail(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(playground.root / "out" / "x"))

    monkeypatch.setattr("stance.annotate.annotate_corpus", fail)
    assert stance.cli.annotate  # the command imports annotate_corpus when it runs
    result = runner.invoke(app, ["annotate", str(playground.root / "in" / "story.txt"), "--out", str(playground.root / "out" / "x")])
    assert result.exit_code == 2 and "no space left on the device" in result.output and "Traceback" not in result.output
    assert os.path.basename(str(playground.root / "out" / "x")) in result.output
