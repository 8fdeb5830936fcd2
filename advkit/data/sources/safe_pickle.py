"""A restricted unpickler for data files (CIFAR's python batches): numpy arrays, lists, dicts, strings,
bytes and numbers, nothing else. Any other global a pickle names (`os.system`, `builtins.eval`, a
class) is refused before it is looked up, so no code in the file ever runs."""

from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path

from advkit.errors import DataError

# Constructors of numpy arrays and dtypes as numpy 1 (`numpy.core`) and numpy 2 (`numpy._core`) pickle them.
_NUMPY = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    *((f"{core}.multiarray", name) for core in ("numpy.core", "numpy._core") for name in ("_reconstruct", "scalar")),
    *((f"{core}.numeric", "_frombuffer") for core in ("numpy.core", "numpy._core")),
}


def _latin1(text, encoding="latin1", errors="strict"):
    """`_codecs.encode` as Python 3 pickles bytes at protocol 2, limited to that one use."""
    if encoding.replace("-", "").replace("_", "").lower() != "latin1" or not isinstance(text, str):
        raise _Refused(f"refused _codecs.encode with encoding {encoding!r}")
    return codecs.encode(text, "latin1", errors)


class _Refused(pickle.UnpicklingError):
    """A global outside the allowed numpy constructors."""


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) == ("_codecs", "encode"):
            return _latin1
        if (module, name) not in _NUMPY:
            raise _Refused(f"refused global {module}.{name}: only numpy arrays, lists, dicts, "
                                         "strings, bytes and numbers are accepted")
        import importlib

        return getattr(importlib.import_module(module), name)


def load(path: Path):
    """The object pickled in `path` (Python 2 pickles read as latin-1), or a DataError."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    try:
        return _Restricted(io.BytesIO(data), encoding="latin1").load()
    except _Refused as exc:
        raise DataError(f"refused {path}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, MemoryError) as exc:
        raise DataError(f"cannot read {path}: truncated or corrupt pickle ({type(exc).__name__}: {exc})") from None
