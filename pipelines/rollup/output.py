"""The rollup's output folder: made whole in a scratch folder beside it, then renamed into
place, so a failed or killed rollup never leaves a half-written folder."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipelines.errors import InputError
from pipelines.load.input_files import InputFolder
from pipelines.rollup.stage import OTHER_ITEMS


def scratch_dir(out_dir: Path) -> Path:
    """This run's scratch folder beside out_dir (the new folder is made inside it)."""
    return out_dir.parent / f".{out_dir.name}.rollup-{os.getpid()}"


def remove_abandoned(out_dir: Path) -> None:
    """Delete the scratch folders of earlier rollups that were killed before they finished."""
    for path in out_dir.parent.glob(f".{out_dir.name}.rollup-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)


def check_target(input_dir: Path, out_dir: Path) -> None:
    """Refuse an output folder that is the input, or that holds anything but a rollup's output."""
    if out_dir.resolve() == input_dir.resolve():
        raise InputError(f"--out {out_dir} is the input folder; give another folder")
    if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir()) and not (out_dir / "event_days").is_dir())):
        raise InputError(f"--out {out_dir} exists and is not the output of an earlier rollup; "
                         "give a new folder (the rollup replaces only its own output)")


def copy_other_items(input_dir: Path, folder: InputFolder, target: Path) -> None:
    """Copy the items the build reads beside event_days (users, sites, ...), so target is a
    complete input folder."""
    for file in folder.files:
        if file.item in OTHER_ITEMS:
            destination = target / file.path.relative_to(input_dir)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file.path, destination)


def publish(new_folder: Path, out_dir: Path, scratch: Path) -> None:
    """Rename the finished folder to out_dir; an earlier output there is moved aside first
    (into the scratch folder, deleted with it)."""
    if out_dir.exists():
        out_dir.rename(scratch / "previous")
    new_folder.rename(out_dir)
