"""An image folder: one subfolder per class, images of any size, read lazily (resize/crop for mixed sizes)."""

from pathlib import Path

from advkit.data.sources.images import ImageFiles, SizedSource, image_files, split_options
from advkit.errors import DataError, UsageError


class ImageFolder(SizedSource):
    """DIR/<class>/<image>: classes are the sorted subfolder names; images are read when used, grayscale
    if the first one is (channels=1 or 3 to choose); resize=N / crop=N give images of mixed sizes one size."""

    name = "imagefolder"

    def __init__(self, location: str | None = None, resize: int | str | None = None, crop: int | str | None = None,
                 channels: int | None = None):
        """Spec options (`DIR:key=value`), also keyword arguments.

        Args:
            resize: scale the shorter side to N pixels, or to exactly HxW.
            crop: centre crop of N x N or HxW pixels, after the resize.
            channels: 1 (grayscale) or 3 (RGB); default: those of the first image.
        """
        super().__init__(location, resize, crop, channels=channels)
        if self.options["channels"] not in (None, 1, 3):
            raise UsageError(f"imagefolder channels must be 1 or 3, got {self.options['channels']!r}")

    @classmethod
    def claims(cls, spec: str) -> bool:
        path = Path(split_options(spec)[0])
        return path.is_dir() and any(p.is_dir() for p in path.iterdir())

    def load(self, split: str) -> ImageFiles:
        root = self.root("image folder")
        classes = sorted(p.name for p in root.iterdir() if p.is_dir())
        files = [(f, label) for label, c in enumerate(classes) for f in image_files(root / c)]
        if not files:
            raise DataError(f"{root}: no images found in class subfolders")
        return ImageFiles([f for f, _ in files], [label for _, label in files], root.name, classes,
                          self.size_meta(), self.resize, self.crop, self.options["channels"])
