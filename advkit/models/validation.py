"""Checks on models before and after they are built: a checkpoint's metadata (types, sane limits, the
tensors' own shapes) before any module is allocated, and a built model's weights and outputs.

Messages about a checkpoint's own values name the checkpoint and the saved field, never a command-line
option the user did not pass.
"""

from __future__ import annotations

import math
import sys

from advkit.errors import ModelError

MAX_CLASSES = 1_000_000
MAX_SIDE = 65_536  # the largest channel count, height or width
MAX_INPUT_VALUES = 1 << 28  # values in one input (C * H * W)
MAX_CLASS_NAME = 1_000  # characters


def check_metadata(meta, path) -> dict:
    """The metadata of checkpoint `path`, type- and range-checked: spec, input_shape, num_classes,
    bounds, mean, std and class_names. Raises ModelError naming the field; returns `meta`."""
    where = f"checkpoint {path}"
    if not isinstance(meta, dict):
        raise ModelError(f"{where}: its advkit metadata is a {type(meta).__name__}, not a mapping")
    spec = meta.get("spec") if meta.get("spec") is not None else {}
    if not isinstance(spec, dict):
        raise ModelError(f"{where}: saved spec is a {type(spec).__name__}, not a mapping")
    if not isinstance(spec.get("architecture", ""), str):
        raise ModelError(f"{where}: saved architecture must be a name, got {spec.get('architecture')!r:.80}")
    params = spec.get("params") if spec.get("params") is not None else {}
    if not isinstance(params, dict):
        raise ModelError(f"{where}: saved architecture parameters are a {type(params).__name__}, not a mapping")
    for key, value in params.items():
        if not isinstance(key, str) or not _plain(value):
            raise ModelError(f"{where}: saved architecture parameter {key!r:.40} = {value!r:.80} is not a "
                             "number, text or list of them")
        numbers = value if isinstance(value, list) else _widths(value)
        if any(isinstance(n, (int, float)) and not isinstance(n, bool) and not -MAX_SIDE * 16 <= n <= MAX_SIDE * 16
               for n in numbers):
            raise ModelError(f"{where}: saved architecture parameter {key} = {value!r:.80} is out of range")
    shape = meta.get("input_shape")
    if (not isinstance(shape, list) or not 1 <= len(shape) <= 3
            or not all(_int(s) and 1 <= s <= MAX_SIDE for s in shape)):
        raise ModelError(f"{where}: saved input_shape must be 1 to 3 sizes from 1 to {MAX_SIDE} (C, H, W), "
                         f"got {shape!r:.80}")
    if math.prod(shape) > MAX_INPUT_VALUES:
        raise ModelError(f"{where}: saved input_shape {shape} has {math.prod(shape):,} values per input, "
                         f"more than {MAX_INPUT_VALUES:,}")
    classes = meta.get("num_classes")
    if not _int(classes) or not 1 <= classes <= MAX_CLASSES:
        raise ModelError(f"{where}: saved num_classes must be an integer from 1 to {MAX_CLASSES:,}, "
                         f"got {classes!r:.80}")
    bounds = meta.get("bounds")
    if bounds is not None and (not isinstance(bounds, list) or len(bounds) != 2
                               or not all(_finite(b) for b in bounds) or not bounds[0] < bounds[1]):
        raise ModelError(f"{where}: saved bounds must be two finite numbers, low < high, got {bounds!r:.80}")
    channels = shape[0]
    for field in ("mean", "std"):
        values = meta.get(field)
        if values is None:
            continue
        if (not isinstance(values, list) or len(values) not in (1, channels)
                or not all(_finite(v) for v in values)):
            raise ModelError(f"{where}: saved {field} must be 1 or {channels} finite numbers (one per channel), "
                             f"got {values!r:.80}")
        if field == "std" and not all(v > 0 for v in values):
            raise ModelError(f"{where}: saved std must be positive, got {values}")
    names = meta.get("class_names")
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, str) and len(n) <= MAX_CLASS_NAME for n in names):
            raise ModelError(f"{where}: saved class_names must be a list of names (text up to "
                             f"{MAX_CLASS_NAME} characters), got {str(names)[:80]}")
        if names and len(names) != classes:
            raise ModelError(f"{where}: saves {len(names)} class names for {classes} classes")
    return meta


def check_shapes(spec: str, input_shape, num_classes: int, state: dict, path) -> None:
    """Build architecture `spec` on the meta device (no memory) and compare its parameter and buffer
    shapes with the checkpoint's tensors, so metadata that claims more than the weights hold (10
    million classes in a 596-byte file) is refused before the real network is allocated."""
    import torch

    from advkit.errors import UsageError
    from advkit.models.architecture import build_network

    try:
        with torch.device("meta"):
            net, _ = build_network(spec, input_shape, num_classes)
    except (ModelError, UsageError):
        raise
    except Exception:  # noqa: BLE001 (an architecture that cannot be built on the meta device: the load checks)
        return
    built = net.state_dict()
    expected = {k: tuple(v.shape) for k, v in built.items()}
    missing = [k for k in expected if k not in state]
    if missing:
        raise ModelError(f"weights in {path} do not fit its metadata (architecture {spec!r:.80}): "
                         f"missing {missing[:3]}{' ...' if len(missing) > 3 else ''}")
    for key, shape in expected.items():
        tensor = state[key]
        if tuple(tensor.shape) != shape:
            raise ModelError(
                f"weights in {path} do not fit its metadata (architecture {spec!r:.80}, num_classes "
                f"{num_classes}, input_shape {list(input_shape)}): {key} would be {list(shape)}, the file holds "
                f"{list(tensor.shape)}"
            )
        if built[key].is_floating_point() and not tensor.is_floating_point():  # loading would round them away
            raise ModelError(f"weights in {path}: {key} is {str(tensor.dtype).replace('torch.', '')}, "
                             "the network's weights are floating point")


def check_weights(state: dict, path) -> dict:
    """Refuse NaN/Inf weights; float64/float16/bfloat16 weights are converted to float32 with a note."""
    import torch

    converted = set()
    for key, tensor in state.items():
        if not isinstance(tensor, torch.Tensor):
            raise ModelError(f"checkpoint {path}: {key!r:.80} is a {type(tensor).__name__}, not a tensor")
        if tensor.is_floating_point():
            if not bool(torch.isfinite(tensor).all()):
                raise ModelError(f"checkpoint {path}: weight {key!r:.80} holds NaN or Inf values")
            if tensor.dtype != torch.float32:
                converted.add(str(tensor.dtype).replace("torch.", ""))
    if converted:
        note(f"checkpoint {path} holds {', '.join(sorted(converted))} weights; loaded as float32")
    return state


def check_model(model, what: str = "model", *, class_names=None, classes_from_data: bool = False):
    """A built advkit Model checked on a probe batch inside its bounds: finite weights (float64 and
    float16 ones are converted to float32, with a note), a tensor of finite float logits, as many as
    the model's classes and as the data's `class_names`. `classes_from_data`: the model's class count
    was taken from the data (a factory's network), so a wider output without class names to
    contradict it (labels need not show every class) becomes the model's. Returns the model."""
    import torch

    from advkit.models.inference import eval_mode

    for name, p in list(model.named_parameters()) + list(model.named_buffers()):
        if p.is_floating_point() and not bool(torch.isfinite(p).all()):
            raise ModelError(f"{what}: weight {name!r} holds NaN or Inf values")
    dtypes = {str(p.dtype).replace("torch.", "") for p in model.parameters()
              if p.is_floating_point() and p.dtype != torch.float32}
    if dtypes:
        note(f"{what} has {', '.join(sorted(dtypes))} weights; converted to float32")
        model = model.float()
    lo, hi = model.bounds
    generator = torch.Generator().manual_seed(0)
    probe = lo + (hi - lo) * torch.rand((2, *model.input_shape), generator=generator)
    try:
        with eval_mode(model), torch.no_grad():
            out = model(probe.to(model.device))
    except Exception as exc:  # noqa: BLE001 (any failure of the user's model becomes one line)
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise ModelError(f"{what} fails on inputs of shape {list(model.input_shape)}: "
                         f"{type(exc).__name__}: {lines[-1] if lines else ''}"[:400]) from None
    if not isinstance(out, torch.Tensor):
        raise ModelError(f"{what} returned a {type(out).__name__}, not a tensor of logits (N x classes)")
    if out.ndim != 2 or out.shape[0] != 2:
        raise ModelError(f"{what} must return logits of shape (N, classes), got {list(out.shape)} for N = 2")
    if not out.is_floating_point():
        raise ModelError(f"{what} returned {str(out.dtype).replace('torch.', '')} outputs, not float logits")
    width = int(out.shape[1])
    if width != model.num_classes:
        if classes_from_data and not class_names and width > model.num_classes:
            model.num_classes = width
        else:
            said = "the data has" if classes_from_data else "its metadata says"
            raise ModelError(f"{what} outputs {width} classes, but {said} {model.num_classes}")
    if class_names and len(class_names) != width:
        raise ModelError(f"{what} outputs {width} classes, but the data has {len(class_names)} "
                         f"({', '.join(map(str, list(class_names)[:3]))}{', ...' if len(class_names) > 3 else ''})")
    if not bool(torch.isfinite(out).all()):
        raise ModelError(f"{what} outputs NaN or Inf on inputs inside its bounds {list(model.bounds)}")
    return model


def note(message: str) -> None:
    print(f"advkit: note: {message}", file=sys.stderr)


def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _plain(value) -> bool:
    if isinstance(value, list):
        return len(value) <= 1000 and all(_plain(v) and not isinstance(v, list) for v in value)
    return value is None or isinstance(value, (str, int, float, bool)) and len(str(value)) <= 1000


def _widths(value) -> list:
    """Numbers inside a parameter like hidden="100-100" (for the range check)."""
    if isinstance(value, str):
        parts = value.replace(",", "-").split("-")
        return [int(p) for p in parts if p.strip().isdigit()]
    return [value]
