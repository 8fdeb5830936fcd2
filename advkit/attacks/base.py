"""The `Attack` base class and its contract: eval mode, device, untouched inputs and parameters, bounds, the eps ball."""

from __future__ import annotations

import inspect
import numbers

from advkit.attacks import norms
from advkit.errors import AttackContractError, UsageError
from advkit.models.inference import device_of, eval_mode
from advkit.plugins.registry import plugin_of


class Attack:
    """Base class of every attack. Subclasses set `name` and `norm` and implement `perturb(x, y)`.

    The constructor's signature is the parameter schema (`__init__(self, model, eps=..., ...)`).
    Capabilities are declared class attributes (literals in the class body, so `advkit list` reads
    them from source), read by the contract, `advkit list`, evaluate and adversarial training:
    `targeted` (True: `perturb(x, y, targets=None)` attacks toward given classes), `budget_param`
    (the constructor parameter bounding the perturbation, stored on the instance under that name;
    None without one), `step_param` and `iterations_param` (a step size that defaults to
    `advkit.madry_step(eps, iterations)` when not given, and the iteration count it divides by) and
    `norm_param` (a parameter that takes the evaluation's norm name, "Linf" or "L2").
    `__call__` enforces the contract: eval mode (restored afterwards), the model's device, no
    gradient left on parameters, the caller's tensor untouched, the model's parameters and buffers
    unchanged (`WeightGuard`: a change is undone and raises `AttackContractError`), output clipped
    into the model's input bounds, and, for attacks with a budget (`budget_param`) and an Linf, L2 or
    L1 norm, its ball.
    """

    name: str = ""
    norm: str | None = None
    black_box: bool = False
    targeted: bool = False  # perturb(x, y, targets=None) attacks toward `targets` (default: whether perturb takes them)
    budget_param: str | None = "eps"  # the parameter bounding the perturbation (the eps ball)
    step_param: str | None = None  # the step size that defaults to 2.5 * eps / iterations
    iterations_param: str | None = None  # the iteration count of that rule (1 when None)
    norm_param: str | None = None  # the parameter taking the norm's name ("Linf", "L2")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "targeted" not in vars(cls):  # the plugin contract: a perturb that takes targets is a targeted mode
            cls.targeted = cls.perturb_takes_targets()

    def __init__(self, model):
        self.model = model

    def perturb(self, x, y):
        """Return adversarial versions of `x` (N x C x H x W) for labels `y` (N)."""
        raise NotImplementedError(f"{type(self).__name__} must implement perturb(x, y)")

    @classmethod
    def supports_targets(cls) -> bool:
        """Whether the attack has a targeted mode: its declared `targeted`."""
        return bool(cls.targeted)

    @classmethod
    def perturb_takes_targets(cls) -> bool:
        """Whether `perturb` accepts `targets`; agrees with `targeted` (checked by `advkit.testing`)."""
        return "targets" in inspect.signature(cls.perturb).parameters

    @property
    def bounds(self) -> tuple[float, float]:
        return tuple(getattr(self.model, "bounds", (0.0, 1.0)))

    def __call__(self, x, y, targets=None):
        import torch

        if targets is not None and not self.supports_targets():
            raise UsageError(f"attack {self.name!r} has no targeted mode")
        model = self.model
        device = device_of(model)
        params = list(model.parameters())
        saved = [(p.requires_grad, p.grad) for p in params]
        x_ref = x.detach().to(device)  # never handed to perturb, which gets a copy
        y_in = y.detach().to(device).clone()
        weights = WeightGuard(model)
        for p in params:
            p.requires_grad_(False)
        try:
            with eval_mode(model), torch.enable_grad():
                kwargs = {} if targets is None else {"targets": targets.detach().to(device).clone()}
                x_adv = self.perturb(x_ref.clone(), y_in, **kwargs)
        except SystemExit as exc:  # an attack ends the program only by its error, never with a made-up status
            raise AttackContractError(f"{self._who()} called sys.exit({exc.code!r}) inside perturb") from None
        finally:
            for p, (requires_grad, grad) in zip(params, saved):
                p.requires_grad_(requires_grad)
                p.grad = grad
            weights.check(self._who())  # also when perturb raised: the changed weights are the first problem
        return self._checked(x_ref, x_adv).to(x.device)

    def _who(self) -> str:
        return f"attack {self.name!r} (plugin {plugin_of(type(self))})"

    def _checked(self, x, x_adv):
        import torch

        if not isinstance(x_adv, torch.Tensor) or x_adv.shape != x.shape:
            shape = list(x_adv.shape) if isinstance(x_adv, torch.Tensor) else type(x_adv).__name__
            raise AttackContractError(f"{self._who()} returned {shape}, expected a tensor of shape {list(x.shape)}")
        x_adv = x_adv.detach().to(x.device, x.dtype)
        if not torch.isfinite(x_adv).all():
            raise AttackContractError(f"{self._who()} returned NaN or Inf values")
        lo, hi = self.bounds
        x_adv = x_adv.clamp(lo, hi)
        eps = getattr(self, self.budget_param, None) if self.budget_param else None
        if isinstance(eps, numbers.Real) and not isinstance(eps, bool) and self.norm in ("Linf", "L2", "L1"):
            eps = float(eps)
            size = norms.size(x_adv - x, self.norm)
            outside = ~norms.within(size, eps)
            if outside.any():
                raise AttackContractError(
                    f"{self._who()} left its {self.norm} ball: perturbation {size.max():.6g} > eps {eps:.6g} "
                    f"on {int(outside.sum())} of {len(size)} samples"
                )
        return x_adv


class WeightGuard:
    """Detects any change to a model's parameters and buffers, and can undo it.

    Models up to `COPY_BYTES` of weights are copied (exact comparison, restorable); larger ones
    keep a fingerprint: per tensor its identity, storage pointer, version counter, shape, dtype and
    float64 sum and absolute sum, which catches replaced tensors, in-place updates and edits made
    through `.data`, though it cannot restore them. On the digits CNN (8 tensors, 0.2 MB) the copy
    and check cost about 0.5 ms per attacked batch on a CPU, next to about 50 ms for FGSM and 300 ms
    for PGD on a 256-sample batch (under 1.5%).
    """

    COPY_BYTES = 256 * 2**20

    def __init__(self, model):
        import torch

        self.tensors = dict(model.named_parameters())
        self.tensors.update(dict(model.named_buffers()))
        self.module = model
        self.identity = {name: self._identity(t) for name, t in self.tensors.items()}
        size = sum(t.numel() * t.element_size() for t in self.tensors.values())
        with torch.no_grad():
            if size <= self.COPY_BYTES:
                self.copies = {name: t.detach().clone() for name, t in self.tensors.items()}
                self.sums = None
            else:
                self.copies = None
                self.sums = self._sums(self.tensors)

    @staticmethod
    def _identity(t) -> tuple:
        return id(t), t.data_ptr(), t._version, tuple(t.shape), t.dtype, t.device

    @staticmethod
    def _sums(tensors: dict):
        import torch

        if not tensors:
            return torch.zeros(0, dtype=torch.float64)
        return torch.stack([torch.stack([t.detach().double().sum(), t.detach().double().abs().sum()]).cpu()
                            for t in tensors.values()]).nan_to_num(nan=-1.0, posinf=-2.0, neginf=-3.0)

    def changed(self) -> list[str]:
        """Names of the parameters and buffers that are not what they were (replaced, added, removed or edited)."""
        import torch

        now = dict(self.module.named_parameters())
        now.update(dict(self.module.named_buffers()))
        names = [n for n in now.keys() | self.tensors.keys()
                 if n not in now or n not in self.tensors or now[n] is not self.tensors[n]
                 or self._identity(now[n]) != self.identity[n]]
        with torch.no_grad():
            if self.copies is not None:
                names += [n for n, t in self.tensors.items() if n not in names and not _same(t, self.copies[n])]
            elif not names:
                after = self._sums(self.tensors)
                names += [n for n, a, b in zip(self.tensors, after, self.sums) if not torch.equal(a, b)]
        return sorted(set(names))

    def check(self, who: str) -> None:
        """Raise `AttackContractError` naming `who` when anything changed, after restoring what can be."""
        changed = self.changed()
        if changed:
            restored = self.restore()
            raise AttackContractError(
                f"{who} changed the model's weights during perturb ({', '.join(changed[:3])}"
                f"{', ...' if len(changed) > 3 else ''}); "
                + ("they were restored" if restored else "the model is too large to keep a copy: reload it")
            )

    def restore(self) -> bool:
        """Put the saved values back (into the original tensors, re-attached where replaced); False
        when only a fingerprint was kept."""
        import torch

        if self.copies is None:
            return False
        with torch.no_grad():
            for name, t in self.tensors.items():
                saved = self.copies[name]
                if t.shape == saved.shape and t.dtype == saved.dtype and t.device == saved.device:
                    t.copy_(saved)
                else:
                    t.data = saved.clone()
                owner, _, attr = name.rpartition(".")
                module = self.module.get_submodule(owner) if owner else self.module
                if isinstance(t, torch.nn.Parameter):
                    module._parameters[attr] = t
                else:
                    module._buffers[attr] = t
        return True


def _same(a, b) -> bool:
    """Bitwise-equal values (NaN equals NaN), shapes and dtypes."""
    import torch

    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if torch.equal(a, b):
        return True
    if a.is_floating_point() or a.is_complex():
        return bool(((a == b) | (a.isnan() & b.isnan())).all())
    return False
