"""ImageNet (ILSVRC2012) validation images, read lazily with the standard resize 256 / centre crop 224.

Layouts of DIR:
- by class: DIR/<wnid>/*.JPEG (as torchvision's ImageFolder expects, e.g. after valprep.sh);
- flat: DIR/*.JPEG with a labels file in DIR or its parent (or named by `labels=FILE`):
  `ILSVRC2012_validation_ground_truth.txt` (the devkit's: one 1-based ILSVRC2012 ID per line, in
  sorted file-name order, mapped through the devkit's `meta.mat`), `val.txt` or `labels.txt`
  (`FILENAME LABEL` lines, or one `LABEL` per line in sorted file-name order), `labels.csv` or
  Kaggle's `LOC_val_solution.csv` (`FILENAME,LABEL` rows, a header allowed; the first word of LABEL
  counts). A LABEL is a 0-based class index or a wnid (n01440364).
Class order and names: `imagenet_class_index.json` (`{"0": ["n01440364", "tench"], ...}`, Keras and
torchvision's order) or Kaggle's `LOC_synset_mapping.txt` (`n01440364 tench, Tinca tinca`, one per
line) in DIR or its parent; without one, the sorted wnids found.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from advkit.data.sources.images import ImageFiles, SizedSource, image_files
from advkit.errors import DataError

LABEL_FILES = ("ILSVRC2012_validation_ground_truth.txt", "val.txt", "labels.txt", "labels.csv",
               "LOC_val_solution.csv")
DEVKIT_META = ("meta.mat", "ILSVRC2012_devkit_t12/data/meta.mat", "data/meta.mat")
WNID = re.compile(r"n\d{8}")


class ImageNet(SizedSource):
    """`imagenet:DIR`: ILSVRC2012 validation images by class (DIR/n01440364/*.JPEG) or flat with a labels
    file (val.txt, labels.csv, ILSVRC2012_validation_ground_truth.txt + meta.mat); class names from
    imagenet_class_index.json or LOC_synset_mapping.txt; resize 256, centre crop 224."""

    name = "imagenet"

    def __init__(self, location: str | None = None, resize: str | None = "256", crop: str | None = "224",
                 labels: str | None = None):
        """Spec options (`DIR:key=value`), also keyword arguments.

        Args:
            resize: scale the shorter side to N pixels, or to exactly HxW.
            crop: centre crop of N x N or HxW pixels, after the resize.
            labels: the labels file of a flat folder (default: the first of the known names found).
        """
        super().__init__(location, resize, crop, labels=labels)

    def load(self, split: str) -> ImageFiles:
        root = self.root("ImageNet")
        wnids, names, index_file = _class_index(root)
        folders = sorted(p for p in root.iterdir() if p.is_dir() and image_files(p))
        if folders:
            order = wnids or [p.name for p in folders]
            position = {w: i for i, w in enumerate(order)}
            unknown = [p.name for p in folders if p.name not in position]
            if unknown:
                raise DataError(f"{root}: class folder {unknown[0]!r} is not in {index_file}")
            files = [(f, position[p.name]) for p in folders for f in image_files(p)]
            layout = "by class"
        else:
            images = image_files(root)
            if not images:
                raise DataError(f"{root}: no images, neither in class folders (DIR/n01440364/*.JPEG) nor flat")
            labels_file = self._labels_file(root)
            files, found = _flat_labels(images, labels_file, wnids, root)
            order = wnids or found
            layout = f"flat, labels from {labels_file.name}"
        meta = {"layout": layout, **({"class_index": str(index_file)} if index_file else {}), **self.size_meta()}
        return ImageFiles([f for f, _ in files], [label for _, label in files], "imagenet", names or order or None,
                          meta, self.resize, self.crop, channels=3)

    def _labels_file(self, root: Path) -> Path:
        given = self.options["labels"]
        if given:
            path = Path(given) if Path(given).is_absolute() or Path(given).is_file() else root / given
            if not path.is_file():
                raise DataError(f"labels file not found: {given}")
            return path
        for folder in (root, root.parent):
            for name in LABEL_FILES:
                if (folder / name).is_file():
                    return folder / name
        raise DataError(f"{root}: flat images need a labels file ({', '.join(LABEL_FILES)}) in it or its parent, "
                        "or images in class folders DIR/<wnid>/")


def _class_index(root: Path) -> tuple[list[str], list[str], Path | None]:
    """(wnids in class order, human names, the file) from a class-index file, or empty lists."""
    for folder in (root, root.parent):
        path = folder / "imagenet_class_index.json"
        if path.is_file():
            try:
                table = json.loads(path.read_text(encoding="utf-8"))
                rows = [table[str(i)] for i in range(len(table))]
                return [str(r[0]) for r in rows], [str(r[1]) for r in rows], path
            except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
                raise DataError(f"{path}: not a class index ({{\"0\": [\"n01440364\", \"tench\"], ...}}): "
                                f"{type(exc).__name__} {exc}") from None
        path = folder / "LOC_synset_mapping.txt"
        if path.is_file():
            rows = [line.split(None, 1) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            if not all(WNID.fullmatch(r[0]) for r in rows):
                raise DataError(f"{path}: lines must be `WNID name, ...`")
            return [r[0] for r in rows], [r[1].split(",")[0].strip() if len(r) > 1 else r[0] for r in rows], path
    return [], [], None


def _flat_labels(images: list[Path], path: Path, wnids: list[str], root: Path):
    """[(image, label index)] for flat `images` from labels file `path`, and the wnid order found there."""
    if path.name == "ILSVRC2012_validation_ground_truth.txt":
        ids = _lines(path)
        _same_count(path, ids, images, root)
        devkit = _devkit_wnids(path, root)
        tokens = [devkit.get(t) or _bad(path, t, "an ILSVRC2012 ID of meta.mat") for t in ids]
        pairs = list(zip(images, tokens))
    else:
        rows = _rows(path)
        if all(len(r) == 1 for r in rows):
            _same_count(path, rows, images, root)
            pairs = list(zip(images, [r[0] for r in rows]))
        else:
            by_name = {}
            for r in rows:
                if len(r) < 2:
                    raise DataError(f"{path}: line {r!r} is not `FILENAME LABEL`")
                by_name[r[0]] = by_name[Path(r[0]).stem] = r[1].split()[0] if r[1].split() else ""
            missing = [f.name for f in images if f.name not in by_name and f.stem not in by_name]
            if missing:
                raise DataError(f"{path} has no label for {missing[0]} ({len(missing)} images without one)")
            pairs = [(f, by_name.get(f.name, by_name.get(f.stem))) for f in images]
    found = wnids or sorted({t for _, t in pairs if WNID.fullmatch(t)})
    position = {w: i for i, w in enumerate(found)}
    out = []
    for f, token in pairs:
        if token.isdigit():
            label = int(token)
        elif token in position:
            label = position[token]
        else:
            _bad(path, token, "a class index or a known wnid")
        if found and label >= len(found):
            raise DataError(f"{path}: label {label} for {f.name} is not below {len(found)} classes")
        out.append((f, label))
    return out, found


def _rows(path: Path) -> list[list[str]]:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".csv":
        rows = [[c.strip() for c in r] for r in csv.reader(text.splitlines()) if any(c.strip() for c in r)]
        if rows and len(rows[0]) > 1 and not (rows[0][1].split() or [""])[0].isdigit() \
                and not WNID.match(rows[0][1].strip()):
            rows = rows[1:]  # a header
        return rows
    return [line.split(None, 1) for line in text.splitlines() if line.strip()]


def _same_count(path: Path, labels: list, images: list, root: Path) -> None:
    if len(labels) != len(images):
        raise DataError(f"{path}: {len(labels)} labels (one per line, in sorted file-name order) for "
                        f"{len(images)} images in {root}")


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]


def _devkit_wnids(path: Path, root: Path) -> dict[str, str]:
    """ILSVRC2012 ID (as text) -> wnid, from the devkit's meta.mat beside the ground-truth file."""
    for folder in dict.fromkeys((path.parent, path.parent.parent, root, root.parent)):
        for name in DEVKIT_META:
            meta = folder / name
            if meta.is_file():
                from scipy.io import loadmat

                try:
                    synsets = loadmat(meta, squeeze_me=True)["synsets"]
                    return {str(int(i)): str(w) for i, w in zip(synsets["ILSVRC2012_ID"], synsets["WNID"])}
                except (ValueError, KeyError, TypeError, OSError) as exc:
                    raise DataError(f"cannot read {meta}: {exc}") from None
    raise DataError(f"{path} holds devkit IDs, which need the devkit's meta.mat ({' or '.join(DEVKIT_META)}) "
                    "beside it to map to classes")


def _bad(path: Path, token: str, what: str):
    raise DataError(f"{path}: label {token!r} is not {what}")
