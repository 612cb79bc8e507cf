"""Find the contract's items in an input folder: `NAME.csv|parquet|jsonl` or a folder `NAME/`."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipelines.errors import InputError
from pipelines.load.input_spec import EVENT_ITEMS, FORMATS, ITEMS


@dataclass(frozen=True)
class InputFile:
    item: str
    path: Path
    format: str


@dataclass
class InputFolder:
    files: list[InputFile]
    ignored: list[Path] = field(default_factory=list)

    def of(self, item: str) -> list[InputFile]:
        return [f for f in self.files if f.item == item]


def _data_files(folder: Path, item: str) -> tuple[list[InputFile], list[Path]]:
    found, ignored = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None or path.name.startswith("."):
            ignored.append(path)
        else:
            found.append(InputFile(item, path, fmt))
    return found, ignored


def discover(input_dir: Path) -> InputFolder:
    """List every input file by item; unusable folders raise InputError (exit 2)."""
    if not input_dir.is_dir():
        raise InputError(f"input folder {input_dir} does not exist or is not a folder")
    files: list[InputFile] = []
    ignored: list[Path] = []
    for path in sorted(input_dir.iterdir()):
        name = path.stem if path.is_file() else path.name
        if name not in ITEMS or path.name.startswith("."):
            ignored.append(path)
        elif path.is_dir():
            found, skipped = _data_files(path, name)
            files += found
            ignored += skipped
        elif path.suffix.lower() in FORMATS:
            files.append(InputFile(name, path, FORMATS[path.suffix.lower()]))
        else:
            ignored.append(path)
    folder = InputFolder(files, ignored)
    for item in ITEMS.values():
        if item.required and not folder.of(item.name):
            raise InputError(f"{input_dir}: no '{item.name}' input (expected {_expected(item.name)})")
    given = [name for name in EVENT_ITEMS if folder.of(name)]
    if not given:
        raise InputError(f"{input_dir}: no 'events' input (expected {_expected('events')}; or the events "
                         "counted per day, event_days, as adoption rollup writes them)")
    if len(given) > 1:
        raise InputError(f"{input_dir}: has both 'events' and 'event_days'; give one of them: the events one by "
                         "one, or counted per user, day and event name")
    return folder


def _expected(item: str) -> str:
    return f"{item}.csv, {item}.parquet, {item}.jsonl or a folder {item}/"
