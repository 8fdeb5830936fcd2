"""The conformance kit for attack authors, at its stable import path: `from advkit.testing import check_attack`.

It lives in `advkit.attacks.conformance`; see there for what is checked.
"""

from advkit.attacks.conformance import QUICK_EPS, QUICK_PARAMS, check_attack, quick_params

__all__ = ["QUICK_EPS", "QUICK_PARAMS", "check_attack", "quick_params"]
