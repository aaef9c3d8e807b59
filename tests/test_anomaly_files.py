"""Nothing outside its folders, nothing lost (issue 21, the shared data layer).

Paths read from files stay inside their folders, declared sizes are checked before allocating,
FIFOs are refused instead of read, ``prepare --overwrite`` leaves the old result whole on any
failure, and a full disk is one line naming the file. Every case checks that nothing outside
the folders it names changed (``snapshot``).
"""

import csv
import errno
import hashlib
import json
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from anomaly_lib.__main__ import main
from anomaly_lib.checkpoints import CheckpointError, atomic_save, load_checkpoint_file
from anomaly_lib.files import DiskFullError, OutsideFolderError, following_symlinks, inside
from anomaly_lib.images import ImageLoadError, frame_count, read_frames, read_grey
from anomaly_lib.layouts import read_chest, read_medad
from anomaly_lib.phantoms import make_phantom_dataset
from anomaly_lib.splits import same_images
from tests.dicom_writer import write_dicom
from tests.test_anomaly_prepare import make_collection, write_pngs

pytestmark = pytest.mark.filterwarnings("ignore::anomaly_lib.images.BitDepthWarning")
SMALL_MEDAD = {"train_normal": 2, "unlabeled_normal": 1, "unlabeled_abnormal": 1, "test_normal": 1,
               "test_abnormal": 1}


def snapshot(folder: Path) -> dict:
    """Every entry under ``folder`` (links not followed) -> its bytes' hash, or where a link points."""
    found = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            found[key] = "link to " + os.readlink(path)
        elif path.is_file():
            found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[key] = "folder"
    return found


@pytest.fixture
def outside(tmp_path):
    """A folder beside the data, with one image and one secret, that no command may touch."""
    folder = tmp_path / "outside"
    write_pngs(folder, 1)
    (folder / "secret.txt").write_text("keep out")
    before = snapshot(folder)
    yield folder
    assert snapshot(folder) == before, "something outside the named folders changed"


def cli(argv, capsys) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line(err: str, *fragments) -> None:
    """stderr ends in one ``error: …`` line; anything before it is a progress bar (``\r`` lines)."""
    *before, last = err.strip("\n").split("\n")
    assert last.startswith("error: ") and "Traceback" not in err, err
    assert all(line.startswith("\r") for line in before), err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


# ---------------------------------------------------------------------------- the rule


def test_inside_refuses_climbing_out_absolute_paths_and_links_out(tmp_path, outside):
    folder = tmp_path / "data"
    write_pngs(folder / "sub", 1)
    assert inside(folder, "sub/img000.png", "list.json") == folder / "sub/img000.png"
    assert inside(folder, "sub/../sub/img000.png", "list.json") == folder / "sub/../sub/img000.png"
    for entry, why in [("../outside/img000.png", "leads out of"), ("sub/../../outside/secret.txt", "leads out of"),
                       ("/etc/passwd", "is an absolute path"), (str(outside / "secret.txt"), "is an absolute path")]:
        with pytest.raises(OutsideFolderError, match="list.json: entry") as error:
            inside(folder, entry, "list.json")
        assert why in str(error.value) and repr(entry) in str(error.value)
    for entry, why in [("", "names the folder"), ("sub/..", "names the folder"), ("x\0.png", "NUL character")]:
        with pytest.raises(ValueError, match=why):
            inside(folder, entry, "list.json")
    (folder / "link.png").symlink_to(outside / "img000.png")
    with pytest.raises(OutsideFolderError, match="is a link to .*outside.*pass --follow_symlinks"):
        inside(folder, "link.png", "list.json")
    assert inside(folder, "link.png", "list.json", follow_symlinks=True) == folder / "link.png"
    (folder / "sub" / "near.png").symlink_to(folder / "sub" / "img000.png")  # a link that stays inside
    assert inside(folder, "sub/near.png", "list.json") == folder / "sub/near.png"


# ---------------------------------------------------------------------------- dataset readers


def test_data_json_entries_leaving_images_are_refused_naming_file_and_entry(tmp_path, outside):
    root = make_phantom_dataset(tmp_path / "medad", "medad", 16, SMALL_MEDAD)
    data = json.loads((root / "data.json").read_text())
    for entry in ["../../outside/img000.png", "/etc/passwd", str(outside / "img000.png")]:
        data["test"]["1"] = [entry]
        (root / "data.json").write_text(json.dumps(data))
        with pytest.raises(OutsideFolderError) as error:
            read_medad(root)
        assert f"{root / 'data.json'} (test/1): entry {entry!r}" in str(error.value)


def test_a_link_out_of_the_dataset_is_refused_unless_followed(tmp_path, outside):
    root = make_phantom_dataset(tmp_path / "medad", "medad", 16, SMALL_MEDAD)
    data = json.loads((root / "data.json").read_text())
    (root / "images" / "linked.png").symlink_to(outside / "img000.png")
    data["test"]["1"] = ["linked.png"]
    (root / "data.json").write_text(json.dumps(data))
    with pytest.raises(OutsideFolderError, match="'linked.png' is a link to .*--follow_symlinks"):
        read_medad(root)
    assert read_medad(root, follow_symlinks=True)["test_abnormal"] == [root / "images" / "linked.png"]

    chest = make_phantom_dataset(tmp_path / "chest", "chest", 16, {"train_normal": 1, "test_normal": 1,
                                                                   "test_abnormal": 1})
    (chest / "train/0.normal/linked.png").symlink_to(outside / "img000.png")
    with pytest.raises(OutsideFolderError, match="train/0.normal: entry 'linked.png' is a link to"):
        read_chest(chest)
    assert len(read_chest(chest, follow_symlinks=True)["train_normal"]) == 2


def test_the_method_command_lines_refuse_a_link_out_unless_told_to_follow(tmp_path, outside, capsys):
    """--follow_symlinks on `python -m sagan_lib` / `swssl_lib` reaches every data reader."""
    from sagan_lib.cli import main as sagan_main
    from swssl_lib.cli import main as swssl_main

    root = make_phantom_dataset(tmp_path / "medad", "medad", 16, SMALL_MEDAD)
    data = json.loads((root / "data.json").read_text())
    (root / "images" / "linked.png").symlink_to(outside / "img000.png")
    data["test"]["1"] = ["linked.png"]
    (root / "data.json").write_text(json.dumps(data))
    chest = make_phantom_dataset(tmp_path / "chest", "chest", 16, {"train_normal": 2, "test_normal": 1,
                                                                   "test_abnormal": 1})
    (chest / "train/0.normal/linked.png").symlink_to(outside / "img000.png")
    runs = [(sagan_main, ["--mode", "train", "--dataset", "folder", "--data_root", root,
                          "--model_save_dir", tmp_path / "sagan_run", "--quiet"]),
            (swssl_main, ["--mode", "train", "--dataset_path", chest, "--save_dir", tmp_path / "swssl_run",
                          "--no-progress"])]
    for main_of_method, argv in runs:
        code = main_of_method([str(arg) for arg in argv])
        err = capsys.readouterr().err
        assert code != 0
        assert_one_line(err, "'linked.png' is a link to", "--follow_symlinks")
    # With the flag the link is read: SWSSL gets past the data readers to its next check (too few
    # training normals for its held-out set), which names no link.
    code = swssl_main([str(arg) for arg in runs[1][1]] + ["--follow_symlinks"])
    err = capsys.readouterr().err
    assert code != 0 and "is a link to" not in err
    assert_one_line(err, "holding out 8 of 3 normal training images")
    with following_symlinks():  # what --follow_symlinks sets for the whole command
        assert read_medad(root)["test_abnormal"] == [root / "images" / "linked.png"]
        assert len(read_chest(chest)["train_normal"]) == 3
    with pytest.raises(OutsideFolderError):  # and only for that command
        read_medad(root)


def test_data_json_that_is_a_fifo_is_refused_not_read(tmp_path):
    root = tmp_path / "medad"
    root.mkdir()
    os.mkfifo(root / "data.json")
    with unblocking(root / "data.json"), pytest.raises(ValueError, match="is a FIFO"):
        read_medad(root)


# ---------------------------------------------------------------------------- declared sizes, FIFOs


def test_dicom_declaring_two_billion_frames_is_refused_before_allocating(tmp_path):
    path = write_dicom(tmp_path / "bomb.dcm", np.zeros((64, 64), np.uint8), NumberOfFrames=2_000_000_000)
    assert path.stat().st_size < 8192
    with pytest.raises(ImageLoadError) as error:
        read_frames(path)
    assert error.value.bad_paths == [path]
    assert "declares 2,000,000,000 frame(s) of 64×64" in str(error.value) and "refused before" in str(error.value)
    with pytest.raises(ImageLoadError, match="2,000,000,000 frame"):
        read_grey(path)  # the middle frame only: refused the same way
    with pytest.raises(ValueError, match=f"{path}: its header declares 2,000,000,000"):
        frame_count(path)
    honest = write_dicom(tmp_path / "honest.dcm", np.arange(3 * 8 * 8, dtype=np.uint8).reshape(3, 8, 8))
    assert frame_count(honest) == 3 and read_frames(honest).shape == (3, 8, 8)


def forged_png(path: Path, width: int, height: int) -> Path:
    """A PNG whose header declares width × height, holding a few deflated bytes."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def test_png_and_bmp_declaring_more_pixels_than_their_bytes_can_hold_are_refused(tmp_path):
    # 9000 × 9000 pixels of at least 1 bit, deflated at most 1032 : 1 -> 9,812 bytes at least
    with pytest.raises(ImageLoadError, match="declares a 9000×9000 PNG, which needs at least 9,812 bytes"):
        read_grey(forged_png(tmp_path / "forged.png", 9000, 9000))
    bmp = tmp_path / "forged.bmp"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(bmp)
    header = bytearray(bmp.read_bytes())
    header[18:26] = (9000).to_bytes(4, "little") * 2  # width and height
    bmp.write_bytes(bytes(header))
    with pytest.raises(ImageLoadError, match="declares a 9000×9000 BMP, which needs at least 10,125,000 bytes"):
        read_grey(bmp)
    write_pngs(tmp_path / "real", 1, size=(300, 200))  # a real, highly compressible image passes
    assert read_grey(tmp_path / "real" / "img000.png").shape == (300, 200)


class unblocking:
    """If the code under test opens ``fifo`` for reading after all, a writer lets it go after
    a few seconds, so a failing test fails instead of hanging."""

    def __init__(self, fifo: Path):
        self.fifo, self.done = fifo, threading.Event()

    def _release(self):
        while not self.done.wait(3):
            try:
                os.close(os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:  # no reader yet
                pass

    def __enter__(self):
        threading.Thread(target=self._release, daemon=True).start()

    def __exit__(self, *exc):
        self.done.set()


def test_fifos_are_refused_by_every_reader_instead_of_waiting(tmp_path):
    fifo, other = tmp_path / "scan.png", tmp_path / "other.png"
    os.mkfifo(fifo)
    os.mkfifo(other)
    with unblocking(fifo):
        with pytest.raises(ImageLoadError, match="scan.png: ValueError: .* is a FIFO"):
            read_grey(fifo)
        with pytest.raises(CheckpointError, match="is a FIFO"):
            load_checkpoint_file(fifo)
        assert same_images([fifo, other]) == []  # two FIFOs of equal "size" are not hashed


# ---------------------------------------------------------------------------- prepare: paths from CSVs


def test_prepare_medad_csv_path_leaving_its_folder_is_refused(tmp_path, outside, capsys):
    data = tmp_path / "data"
    write_pngs(data, 6)
    for entry in ["../outside/img000.png", "/etc/passwd"]:
        rows = [["path", "label"]] + [[f"img{i:03d}.png", i % 2] for i in range(6)] + [[entry, 1]]
        with open(data / "list.csv", "w", newline="") as file:
            csv.writer(file).writerows(rows)
        code, _, err = cli(["prepare", "medad", "--csv", data / "list.csv", "--out", tmp_path / "out"], capsys)
        assert code == 2
        assert_one_line(err, f"{data / 'list.csv'} line 8: entry {entry!r}")
        assert not (tmp_path / "out").exists()


def test_prepare_medad_folder_with_a_link_out_needs_follow_symlinks(tmp_path, outside, capsys):
    write_pngs(tmp_path / "n", 6)
    write_pngs(tmp_path / "a", 4, value=200)
    (tmp_path / "a" / "linked.png").symlink_to(outside / "img000.png")
    argv = ["prepare", "medad", "--normal", tmp_path / "n", "--abnormal", tmp_path / "a", "--out", tmp_path / "out"]
    code, _, err = cli(argv, capsys)
    assert code == 2
    assert_one_line(err, "entry 'linked.png' is a link to", "--follow_symlinks")
    code, out, err = cli(argv + ["--follow_symlinks"], capsys)
    assert code == 0 and "wrote a medad layout" in out, err


def test_prepare_dbt_table_path_leaving_source_is_refused(tmp_path, outside, capsys):
    download = tmp_path / "download"
    make_collection(download)
    table = download / "BCS-DBT-file-paths-train-v2.csv"
    lines = table.read_text().splitlines()
    lines[1] = lines[1].replace("Breast-Cancer-Screening-DBT/DBT-P001/", "../outside/", 1)
    table.write_text("\n".join(lines) + "\n")
    before = snapshot(download)
    code, _, err = cli(["prepare", "dbt", "--source", download, "--out", tmp_path / "dbt"], capsys)
    assert code == 2
    assert_one_line(err, f"{table} line 2 (descriptive_path): entry '../outside/", "leads out of")
    assert snapshot(download) == before and not (tmp_path / "dbt").exists()


def test_prepare_dbt_volume_linked_from_outside_needs_follow_symlinks(tmp_path, capsys):
    download = tmp_path / "download"
    make_collection(download)
    volume = next(download.rglob("*.dcm"))
    kept = tmp_path / "elsewhere" / "1-1.dcm"
    kept.parent.mkdir()
    volume.rename(kept)
    volume.symlink_to(kept)
    argv = ["prepare", "dbt", "--source", download, "--out", tmp_path / "dbt"]
    code, _, err = cli(argv, capsys)
    assert code == 2
    assert_one_line(err, f"is a link to {kept}, outside {download}", "--follow_symlinks")
    code, out, err = cli(argv + ["--follow_symlinks"], capsys)
    assert code == 0 and "wrote a dbt layout" in out, err


# ---------------------------------------------------------------------------- prepare: nothing lost


@pytest.fixture
def prepared(tmp_path, capsys):
    """A finished prepare output and the command that made it; its parent holds nothing else of ours."""
    write_pngs(tmp_path / "n", 8)
    write_pngs(tmp_path / "a", 5, value=200)
    argv = ["prepare", "medad", "--normal", tmp_path / "n", "--abnormal", tmp_path / "a", "--out", tmp_path / "out"]
    code, _, err = cli(argv, capsys)
    assert code == 0, err
    return tmp_path / "out", argv


def leftovers(folder: Path) -> list[str]:
    """Temporary folders or lock files a prepare run left beside or inside its output."""
    return sorted(path.name for path in [*folder.parent.glob(".out.*"), *folder.glob(".lock")])


def result(folder: Path) -> dict:
    """``snapshot`` without the lock file, which moves with a folder its process held."""
    return {key: value for key, value in snapshot(folder).items() if key != ".lock"}


def test_prepare_overwrite_with_a_truncated_input_keeps_the_old_result(prepared, tmp_path, capsys):
    out, argv = prepared
    before = snapshot(out)
    broken = tmp_path / "n" / "img003.png"
    broken.write_bytes(broken.read_bytes()[:40])  # truncated
    code, _, err = cli(argv + ["--overwrite", "--seed", "5"], capsys)
    assert code == 2 and "img003.png" in err and "could not be read" in err
    assert snapshot(out) == before and leftovers(out) == []


def test_prepare_overwrite_on_a_full_disk_keeps_the_old_result(prepared, monkeypatch, capsys):
    out, argv = prepared
    before = snapshot(out)

    def full_disk(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    code, _, err = cli(argv + ["--overwrite", "--workers", "1"], capsys)
    assert code == 2
    assert_one_line(err, "no space left on device while writing ", ".png")
    assert snapshot(out) == before and leftovers(out) == []


def test_prepare_marks_complete_only_when_every_listed_file_exists(prepared, monkeypatch, capsys):
    out, argv = prepared
    before = snapshot(out)
    import anomaly_lib.prepare as prepare

    real_save = prepare._save_png
    monkeypatch.setattr(prepare, "_save_png", lambda image, path: None if path.name.startswith("000003")
                        else real_save(image, path))  # one image silently missing
    code, _, err = cli(argv + ["--overwrite"], capsys)
    assert code == 2
    assert_one_line(err, "1 of 13 listed files were not written", "not marked complete")
    assert snapshot(out) == before and json.loads((out / "prepare.json").read_text())["complete"] is True


def test_prepare_into_a_folder_another_process_holds_is_refused(prepared, capsys):
    out, argv = prepared
    holder = subprocess.Popen(["sleep", "60"])
    try:
        (out / ".lock").write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname()}))
        before = snapshot(out)
        code, _, err = cli(argv + ["--overwrite"], capsys)
        assert code == 2
        assert_one_line(err, f"{out} is in use by another run (process {holder.pid}")
        assert snapshot(out) == before
    finally:
        holder.kill()
        holder.wait()
    (out / ".lock").unlink()
    code, _, err = cli(argv + ["--overwrite", "--seed", "9"], capsys)  # free again: replaced, lock gone
    assert code == 0 and json.loads((out / "prepare.json").read_text())["seed"] == 9 and leftovers(out) == []


def test_prepare_removes_what_a_killed_prepare_left_beside_its_output(prepared, capsys):
    out, argv = prepared
    dead = subprocess.Popen(["true"])  # a process that has ended: its pid holds no lock
    dead.wait()
    for kind in ("prepare", "replaced"):  # unfinished new work; an old result already replaced
        leftover = out.parent / f".out.{kind}-killed"
        (leftover / "images").mkdir(parents=True)
        (leftover / ".lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    code, _, err = cli(argv + ["--overwrite"], capsys)
    assert code == 0, err
    assert leftovers(out) == []


KILLED_BETWEEN_THE_RENAMES = """
import os, sys
import anomaly_lib.prepare as prepare
renames = []
real_rename = os.rename
def rename(source, target):
    renames.append(target)
    if len(renames) == 2:
        os._exit(9)  # killed after the old result moved aside, before the new one moved in
    real_rename(source, target)
prepare.os.rename = rename
from anomaly_lib.__main__ import main
main(sys.argv[1:])
"""


def test_prepare_killed_between_the_renames_of_its_swap_loses_nothing(prepared, tmp_path, capsys):
    out, argv = prepared
    old = snapshot(out)
    killed = subprocess.run(["python", "-c", KILLED_BETWEEN_THE_RENAMES, *map(str, argv), "--overwrite",
                             "--seed", "7"], capture_output=True, text=True)
    assert killed.returncode == 9, killed.stderr
    new_work = next(out.parent.glob(".out.prepare-*"))
    assert not out.exists() and json.loads((new_work / "prepare.json").read_text())["seed"] == 7
    assert result(next(out.parent.glob(".out.replaced-*"))) == old  # the old result, whole, beside
    new = result(new_work)

    code, printed, err = cli(argv, capsys)  # no --overwrite: the finished swap is kept, and named
    assert code == 2 and "finished the swap of an interrupted `prepare`" in printed
    assert_one_line(err, f"{out} holds an earlier `prepare` output; add --overwrite")
    assert result(out) == new and leftovers(out) == [next(out.parent.glob(".out.replaced-*")).name]

    code, _, err = cli(argv + ["--overwrite", "--seed", "8"], capsys)  # --out complete: the old one goes
    assert code == 0, err
    assert json.loads((out / "prepare.json").read_text())["seed"] == 8 and leftovers(out) == []


def test_prepare_keeps_a_complete_result_beside_an_incomplete_output(prepared, tmp_path, capsys):
    out, argv = prepared
    kept = out.parent / ".out.replaced-killed"
    shutil.copytree(out, kept)
    before = snapshot(kept)
    next((out / "images").iterdir()).unlink()  # --out no longer complete
    code, _, err = cli(argv + ["--overwrite", "--seed", "3"], capsys)
    assert code == 0, err
    assert snapshot(kept) == before  # not deleted while --out was incomplete
    code, _, err = cli(argv + ["--overwrite"], capsys)
    assert code == 0 and leftovers(out) == [], err


# ---------------------------------------------------------------------------- full disk


def test_checkpoint_save_on_a_full_disk_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "run" / "last.pt"
    atomic_save({"step": torch.tensor(1)}, path)
    before = path.read_bytes()

    def torch_on_a_full_disk(*args, **kwargs):  # what torch.save raises: the ENOSPC is its context
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598") from None

    monkeypatch.setattr(torch, "save", torch_on_a_full_disk)
    with pytest.raises(DiskFullError) as error:
        atomic_save({"step": torch.tensor(2)}, path)
    assert str(error.value) == f"no space left on device while writing {path}"
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]


def disk_fills_after(writes: int, monkeypatch) -> list:
    """`Path.write_bytes` fails with ENOSPC after `writes` files; returns the paths it was asked to write."""
    calls = []
    real_write = Path.write_bytes

    def fills_up(self, data):
        calls.append(self)
        if len(calls) > writes:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", fills_up)
    return calls


def test_phantoms_on_a_full_disk_say_so_in_one_line(tmp_path, outside, monkeypatch, capsys):
    calls = disk_fills_after(3, monkeypatch)
    code, out, err = cli(["phantoms", "--out", tmp_path / "ph", "--image-size", "16"], capsys)
    assert code == 2 and out == ""
    assert_one_line(err, f"no space left on device while writing {calls[-1]}")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["outside"]  # nothing half-written left
    monkeypatch.undo()  # space again: the same command runs
    code, out, err = cli(["phantoms", "--out", tmp_path / "ph", "--image-size", "16"], capsys)
    assert code == 0 and "wrote a medad phantom dataset" in out, err


def test_phantoms_over_an_earlier_dataset_keep_it_until_the_new_one_is_complete(tmp_path, outside, monkeypatch,
                                                                                capsys):
    argv = ["phantoms", "--out", tmp_path / "ph", "--image-size", "16", "--count", "train_normal=3"]
    assert cli(argv, capsys)[0] == 0
    before = snapshot(tmp_path / "ph")
    disk_fills_after(5, monkeypatch)
    code, _, err = cli(argv + ["--seed", "4"], capsys)
    assert code == 2
    assert_one_line(err, "no space left on device while writing ")
    assert snapshot(tmp_path / "ph") == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["outside", "ph"]  # no temporary folder left
    monkeypatch.undo()
    assert cli(argv + ["--seed", "4"], capsys)[0] == 0 and snapshot(tmp_path / "ph") != before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["outside", "ph"]


@pytest.fixture
def tiny_disk(tmp_path):
    """A real full disk: a 2 MB tmpfs. Mounting needs root; skipped elsewhere (the tests above
    cover the same cases with the write raising ENOSPC)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(disk: Path, leave: int) -> None:
    """Fill ``disk`` until about ``leave`` bytes are free."""
    status = os.statvfs(disk)
    (disk / "filler").write_bytes(b"\0" * max(0, status.f_bavail * status.f_frsize - leave))


def test_a_real_full_disk_phantoms_and_checkpoints(tiny_disk, capsys):
    fill(tiny_disk, 64_000)
    code, out, err = cli(["phantoms", "--out", tiny_disk / "ph", "--image-size", "64"], capsys)
    assert code == 2 and out == ""
    assert_one_line(err, f"no space left on device while writing {tiny_disk}/.ph.phantoms-", ".png")
    assert not (tiny_disk / "ph").exists()  # written beside, never swapped in
    path = tiny_disk / "last.pt"
    atomic_save({"weights": torch.ones(100)}, path)
    before = path.read_bytes()
    with pytest.raises(DiskFullError, match=f"^no space left on device while writing {path}$"):
        atomic_save({"weights": torch.zeros(100_000)}, path)  # 400 kB into about 60 kB
    assert path.read_bytes() == before and sorted(p.name for p in tiny_disk.iterdir()) == ["filler", "last.pt"]
