"""advkit_autoattack: the reference AutoAttack (`pyautoattack`) as advkit attacks (plugin `autoattack`).

`autoattack.standard`, `autoattack.plus` and `autoattack.rand` run the reference's versions as it
runs them (`AutoAttack(...).run_standard_evaluation`); `autoattack.apgd-ce`, `apgd-dlr`, `apgd-t`,
`fab`, `fab-t` and `square` run its attack classes with the settings of those versions. Parameters
and defaults are read from pyautoattack's source, so listing them imports neither torch nor it. The
package is an extra (`pip install -e ".[autoattack]"`); without it the names stay listed and using
one says how to install it.
"""

import importlib.util

import advkit

from .wrapper import CATALOGUE, make_class, missing_class


@advkit.hookimpl
def register_attacks(register):
    installed = importlib.util.find_spec("pyautoattack") is not None
    for spec in CATALOGUE:
        register(make_class(spec) if installed else missing_class(spec))
