"""advkit_minnorm: minimum-norm attacks, native (plugin `minnorm`).

`minnorm.fmn` (Pintor et al. 2021, Linf, L2 or L1) and `minnorm.ddn` (Rony et al. 2019, L2) look
for each sample's smallest adversarial perturbation. With `eps=None` (the default) any size is
allowed; with an eps the result is projected into the eps ball, so a sample counts as fooled at eps
only when a perturbation of at most eps was found (or its projection still fools).
"""

import advkit


@advkit.hookimpl
def register_attacks(register):
    register(advkit.Lazy("advkit_minnorm.fmn:FMN"))
    register(advkit.Lazy("advkit_minnorm.ddn:DDN"))
