"""The ART evasion attacks advkit exposes: one row per advkit attack name.

Left out because they do not apply to a plain PyTorch image classifier: adversarial patches and
textures, DPatch/RobustDPatch, Overload, SNAL (object detectors); CarliniWagnerASR, ImperceptibleASR
(audio); FrameSaliency, OverTheAirFlickering (video); LowProFool (tabular); DecisionTreeAttack,
HighConfidenceLowUncertainty (trees, Gaussian processes); MalwareGD (TensorFlow malware);
FeatureAdversaries (needs guide images, not labels); LaserAttack, GRAPHITE (need scene generators or
patch geometry); CompositeAdversarialAttack (RGB only); TargetedUniversalPerturbation (no untargeted
mode); the ProjectedGradientDescent Numpy/PyTorch classes (what `pgd` dispatches to).
Left out because they fail in ART 1.20.1 itself: GeoDA (calls `np.mat`, removed in NumPy 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

INF = float("inf")


@dataclass(frozen=True)
class Spec:
    """How advkit exposes one ART attack class.

    `fixed`: ART arguments advkit sets (hidden from the schema). `targets`: "flag" when ART takes
    `targeted=True` with target labels as `y`, "labels" when `y` is always the target (untargeted
    runs pass no labels), None without a targeted mode. `single`: ART handles one sample per call.
    `unseeded`: ART draws from an unseeded `np.random.RandomState()`, which advkit seeds.
    `probabilities`: the estimator must output probabilities. `requires`: an optional module ART
    needs for this attack (the row is registered only when it is installed). `hidden`/`shown`: ART arguments
    removed from / kept in the schema beyond the usual plumbing. `quick`: reduced iterations for CI.
    `step`: the fixed per-iteration step size (`eps_step` of BIM, PGD, MIM), which defaults to
    2.5 * eps / max_iter when not given (APGD's `eps_step` is only where its adaptive step starts).
    """

    name: str
    cls: str
    module: str
    norm: str | None
    fixed: dict = field(default_factory=dict)
    targets: str | None = "flag"
    black_box: bool = False
    single: bool = False
    unseeded: bool = False
    probabilities: bool = False
    requires: str | None = None
    hidden: tuple[str, ...] = ()
    shown: tuple[str, ...] = ()
    quick: dict = field(default_factory=dict)
    step: str | None = None


# CI settings for the optimisation attacks (C&W, EAD) that return the input unless they succeed.
QUICK_CW = {"binary_search_steps": 1, "max_iter": 10, "learning_rate": 0.1, "initial_const": 10.0}
PGD = "projected_gradient_descent.projected_gradient_descent"
APGD = "auto_projected_gradient_descent"
ACG = "auto_conjugate_gradient"

CATALOGUE = [
    Spec("fgsm", "FastGradientMethod", "fast_gradient", "Linf", {"norm": INF}),
    Spec("fgm-l2", "FastGradientMethod", "fast_gradient", "L2", {"norm": 2}),
    Spec("fgm-l1", "FastGradientMethod", "fast_gradient", "L1", {"norm": 1}),
    Spec("bim", "BasicIterativeMethod", "iterative_method", "Linf", quick={"max_iter": 5}, step="eps_step"),
    Spec("pgd", "ProjectedGradientDescent", PGD, "Linf", {"norm": INF}, quick={"max_iter": 5}, step="eps_step"),
    Spec("pgd-l2", "ProjectedGradientDescent", PGD, "L2", {"norm": 2}, quick={"max_iter": 5}, step="eps_step"),
    Spec("pgd-l1", "ProjectedGradientDescent", PGD, "L1", {"norm": 1}, quick={"max_iter": 5}, step="eps_step"),
    Spec("mim", "MomentumIterativeMethod", "momentum_iterative_method", "Linf", {"norm": INF},
         quick={"max_iter": 5}, step="eps_step"),
    Spec("apgd", "AutoProjectedGradientDescent", APGD, "Linf", {"norm": INF},
         quick={"max_iter": 5, "nb_random_init": 1}),
    Spec("apgd-l2", "AutoProjectedGradientDescent", APGD, "L2", {"norm": 2},
         quick={"max_iter": 5, "nb_random_init": 1}),
    Spec("acg", "AutoConjugateGradient", ACG, "Linf", {"norm": INF}, quick={"max_iter": 5, "nb_random_init": 1}),
    Spec("acg-l2", "AutoConjugateGradient", ACG, "L2", {"norm": 2}, quick={"max_iter": 5, "nb_random_init": 1}),
    Spec("racg", "RescalingAutoConjugateGradient", "rescaling_auto_conjugate_gradient", "Linf", {"norm": INF},
         quick={"max_iter": 5, "nb_random_init": 1}),
    Spec("autoattack", "AutoAttack", "auto_attack", "Linf", {"norm": INF, "targeted": False}, targets=None,
         requires="multiprocess", hidden=("attacks", "estimator_orig", "parallel_pool_size")),
    Spec("autoattack-l2", "AutoAttack", "auto_attack", "L2", {"norm": 2, "targeted": False}, targets=None,
         requires="multiprocess", hidden=("attacks", "estimator_orig", "parallel_pool_size")),
    Spec("cw-l2", "CarliniL2Method", "carlini", "L2", quick=QUICK_CW),
    Spec("cw-linf", "CarliniLInfMethod", "carlini", "Linf",
         quick={"max_iter": 3, "initial_const": 0.5, "largest_const": 1.0}),
    Spec("cw-l0", "CarliniL0Method", "carlini", "L0", hidden=("mask",),
         quick={**QUICK_CW, "max_iter": 3, "max_halving": 2, "max_doubling": 2}),
    Spec("deepfool", "DeepFool", "deepfool", "L2", targets=None, quick={"max_iter": 5}),
    Spec("newtonfool", "NewtonFool", "newtonfool", "L2", targets=None, quick={"max_iter": 5}),
    Spec("elasticnet", "ElasticNet", "elastic_net", "L1", quick=QUICK_CW),
    # Papernot et al.'s JSMA takes the Jacobian of the softmax (torchattacks.jsma: of the logits).
    Spec("jsma", "SaliencyMapMethod", "saliency_map", "L0", targets="labels", probabilities=True,
         quick={"theta": 1.0, "gamma": 0.3}),
    Spec("universal-perturbation", "UniversalPerturbation", "universal_perturbation", "Linf", {"norm": INF},
         targets=None, quick={"max_iter": 1, "attacker": "fgsm"}),
    Spec("vat", "VirtualAdversarialMethod", "virtual_adversarial", "L2", targets=None, probabilities=True,
         quick={"max_iter": 2}),
    Spec("spatial-transformation", "SpatialTransformation", "spatial_transformation", None, targets=None),
    Spec("hopskipjump", "HopSkipJump", "hop_skip_jump", "L2", {"norm": 2}, black_box=True, unseeded=True,
         quick={"max_iter": 2, "max_eval": 50, "init_eval": 10, "init_size": 20}),
    Spec("hopskipjump-linf", "HopSkipJump", "hop_skip_jump", "Linf", {"norm": INF}, black_box=True, unseeded=True,
         quick={"max_iter": 2, "max_eval": 50, "init_eval": 10, "init_size": 20}),
    Spec("boundary", "BoundaryAttack", "boundary", "L2", black_box=True, unseeded=True,
         quick={"max_iter": 5, "num_trial": 5, "sample_size": 5, "init_size": 20}),
    Spec("sign-opt", "SignOPTAttack", "sign_opt", "L2", targets=None, black_box=True, hidden=("eval_perform",),
         quick={"num_trial": 5, "max_iter": 2, "query_limit": 100, "k": 5}),
    Spec("square", "SquareAttack", "square_attack", "Linf", {"norm": INF}, targets=None, black_box=True,
         hidden=("adv_criterion", "loss"), quick={"max_iter": 10}),
    Spec("square-l2", "SquareAttack", "square_attack", "L2", {"norm": 2}, targets=None, black_box=True,
         hidden=("adv_criterion", "loss"), quick={"max_iter": 10}),
    Spec("simba", "SimBA", "simba", "L2", black_box=True, single=True, probabilities=True,
         quick={"max_iter": 20}),
    Spec("zoo", "ZooAttack", "zoo", "L2", black_box=True, single=True,
         quick={"max_iter": 20, "nb_parallel": 64, "learning_rate": 0.5, "initial_const": 100.0}),
    Spec("pixel", "PixelAttack", "pixel_threshold", "L0", black_box=True, quick={"max_iter": 2, "th": 10}),
    Spec("threshold", "ThresholdAttack", "pixel_threshold", "Linf", black_box=True, requires="cma",
         quick={"max_iter": 2, "th": 10}),
    Spec("wasserstein", "Wasserstein", "wasserstein", None,
         quick={"max_iter": 5, "regularization": 100.0, "eps_iter": 2, "conjugate_sinkhorn_max_iter": 20,
                "projected_sinkhorn_max_iter": 20}),
    Spec("shadow", "ShadowAttack", "shadow_attack", None, single=True, shown=("batch_size",),
         quick={"nb_steps": 5, "batch_size": 8}),
    Spec("brendel-bethge", "BrendelBethgeAttack", "brendel_bethge", "L2", {"norm": 2}, requires="numba",
         quick={"steps": 5, "binary_search_steps": 2}),
    Spec("brendel-bethge-linf", "BrendelBethgeAttack", "brendel_bethge", "Linf", {"norm": INF}, requires="numba",
         quick={"steps": 5, "binary_search_steps": 2}),
]
