"""A disk that fills up: annotate, pull and train stop with a clear message (exit 2, no traceback),
lose nothing already written, and after space is freed the same command resumes.

The disk is a real one: a small tmpfs mounted for the test (root only; elsewhere these tests are
skipped, and `test_a_failed_chunk_write_is_cut_back` still checks the mechanism with an injected
ENOSPC).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import write_config
from typer.testing import CliRunner

from stance.cli import app

runner = CliRunner()
BLOCK = 4096


class SmallDisk:
    """A mounted tmpfs of a few MiB, and a filler file that takes all but `room` bytes of it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / "filler.bin"

    def fill(self, room: int) -> None:
        """Fill the disk, then free `room` bytes (rounded to whole pages)."""
        with self.filler.open("ab", buffering=0) as handle:
            block = b"\0" * (64 * BLOCK)
            for size in (len(block), BLOCK):  # bounded: the disk is a few MiB
                for _ in range(100_000):
                    try:
                        handle.write(block[:size])
                    except OSError as exc:
                        assert exc.errno == errno.ENOSPC
                        break
        size = self.filler.stat().st_size
        os.truncate(self.filler, max(0, size - room))

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def is_full(self) -> bool:
        return shutil.disk_usage(self.root).free < BLOCK * 64


def mount_small_disk(directory: Path, size: str) -> SmallDisk:
    directory.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root; the full-disk tests run where they can")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(directory)], capture_output=True, text=True,
                          timeout=30)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
    return SmallDisk(directory)


@pytest.fixture()
def small_disk(tmp_path):
    disk = mount_small_disk(tmp_path / "disk", "2m")
    yield disk
    subprocess.run(["umount", str(disk.root)], capture_output=True, timeout=30)


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True) if path.exists() else []


def test_a_failed_chunk_write_is_cut_back(tmp_path, monkeypatch):
    """The mechanism, on any machine: a chunk whose write fails half way is removed whole."""
    from labelstudio_fixture import markup_config, markup_records, typed

    from stance.runs import PredictionAppender

    records = [typed(r) for r in markup_records(markup_config(tmp_path))]
    path = tmp_path / "predictions.jsonl"
    with PredictionAppender(path) as out:
        out.append(records[:1])
        kept = path.read_bytes()

        class HalfThenFull:
            def __init__(self, inner):
                self.inner, self.calls = inner, 0

            def write(self, data):
                self.calls += 1
                if self.calls == 1:
                    return self.inner.write(bytes(data[: len(data) // 2]))
                raise OSError(errno.ENOSPC, "No space left on device")

            def fileno(self):
                return self.inner.fileno()

        out._out = HalfThenFull(out._out)
        with pytest.raises(OSError):
            out.append(records)
        assert path.read_bytes() == kept  # the half-written chunk is gone; the earlier one is whole
        out._out = out._out.inner
        out.append(records[1:])
    assert lines(path) == [kept.decode("utf-8"), lines(path)[1]] and len(lines(path)) == 2


@pytest.mark.model
@pytest.mark.slow
def test_annotate_on_a_full_disk_stops_keeps_its_chunks_and_resumes(small_disk, tmp_path, seeds_dir, tiny_nli_model_dir):
    config = write_config(tmp_path / "tiny.yaml", f"model:\n  backend: nli\n  name: {tiny_nli_model_dir}\n  max_length: 128\n")
    command = ["annotate", str(seeds_dir), "--config", str(config), "--chunk-size", "4", "--no-progress", "--out"]
    reference = runner.invoke(app, [*command, str(tmp_path / "reference")])
    assert reference.exit_code == 0, reference.output
    expected = lines(tmp_path / "reference" / "predictions.jsonl")

    out = small_disk.root / "run"
    small_disk.fill(room=48 * 1024)  # room for run.json and some chunks, not for the whole run
    full = runner.invoke(app, [*command, str(out)])
    assert full.exit_code == 2, full.output
    assert "no space left on the device" in full.output and "run the same command again" in full.output
    assert "Traceback" not in full.output and isinstance(full.exception, SystemExit)
    written = lines(out / "predictions.jsonl")
    assert 0 < len(written) < len(expected) and len(written) % 4 == 0  # whole chunks only
    assert written == expected[: len(written)]  # nothing already written was lost or damaged
    assert f"{len(written)} paragraphs are written" in full.output

    small_disk.free()
    resumed = runner.invoke(app, [*command, str(out)])
    assert resumed.exit_code == 0, resumed.output
    assert f"{len(written)} kept from an earlier session" in resumed.output
    for name in ("predictions.jsonl", "predictions.csv", "documents.jsonl"):
        assert (out / name).read_bytes() == (tmp_path / "reference" / name).read_bytes(), name
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["status"] == "complete"


@pytest.mark.model
@pytest.mark.slow
def test_train_on_a_full_disk_stops_keeps_the_old_model_and_runs_again(tmp_path, bundled_model_dir):
    from tiny_encoder import TRAIN_SAMPLE, build_tiny_bert

    disk = mount_small_disk(tmp_path / "disk", "24m")
    try:
        base = build_tiny_bert(tmp_path / "tiny-base", bundled_model_dir)
        out = disk.root / "model"
        command = ["train", str(TRAIN_SAMPLE), "--out", str(out), "--base", str(base), "--no-progress", "--max-steps", "4",
                   "--batch-size", "16", "--overwrite"]
        first = runner.invoke(app, command)
        assert first.exit_code == 0, first.output
        before = {p.name: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}

        disk.fill(room=1024 * 1024)  # a model directory needs several MiB
        full = runner.invoke(app, command)
        assert full.exit_code == 2, full.output
        assert "no space left on the device" in full.output and "Traceback" not in full.output
        assert {p.name: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before  # the old model is whole
        assert sorted(p.name for p in disk.root.iterdir()) == ["filler.bin", "model"]  # no half-written model left

        disk.free()
        again = runner.invoke(app, command)
        assert again.exit_code == 0, again.output
        assert (out / "model.safetensors").is_file() and (out / "stance_model.json").is_file()
    finally:
        subprocess.run(["umount", str(disk.root)], capture_output=True, timeout=30)


@pytest.mark.server
@pytest.mark.slow
def test_pull_on_a_full_disk_stops_keeps_the_earlier_export_and_runs_again(small_disk, ls_client, ls_seeds_run, default_config,
                                                                            labelstudio_server, tmp_path, monkeypatch):
    from labelstudio_fixture import read_predictions, typed, unique_title

    from stance.labelstudio.push import push_run
    from stance.labelstudio.tasks import prediction_result

    title = unique_title("full-disk")
    pushed = push_run(ls_seeds_run, default_config, ls_client, title, progress=False)
    records = read_predictions(ls_seeds_run)
    by_paragraph = {t.para_id: t.id for t in ls_client.list_tasks(pushed.project_id)}
    for record in records[:10]:
        ls_client.create_annotation(by_paragraph[record["id"]], prediction_result(typed(record), default_config))
    monkeypatch.setenv("LABEL_STUDIO_URL", labelstudio_server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", labelstudio_server.api_key)
    out = small_disk.root / "reviewed.jsonl"
    command = ["pull", "--project", title, "--out", str(out), "--overwrite"]

    small_disk.fill(room=8 * 1024)  # less than the export
    first = runner.invoke(app, command)
    assert first.exit_code == 2, first.output
    assert "no space left on the device" in first.output and "Traceback" not in first.output
    assert sorted(p.name for p in small_disk.root.iterdir()) == ["filler.bin"]  # no half-written export

    small_disk.free()
    done = runner.invoke(app, command)
    assert done.exit_code == 0, done.output
    earlier = out.read_bytes()
    assert len(earlier.splitlines()) == 10 * len(default_config.targets)

    for record in records[10:20]:  # more reviews, then a pull that does not fit: the earlier export stays whole
        ls_client.create_annotation(by_paragraph[record["id"]], prediction_result(typed(record), default_config))
    small_disk.fill(room=8 * 1024)
    again = runner.invoke(app, command)
    assert again.exit_code == 2 and "no space left on the device" in again.output
    assert out.read_bytes() == earlier
    small_disk.free()
    last = runner.invoke(app, command)
    assert last.exit_code == 0, last.output
    assert len(out.read_bytes().splitlines()) == 20 * len(default_config.targets)
