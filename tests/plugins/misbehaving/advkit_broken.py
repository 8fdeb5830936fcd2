"""A plugin that cannot even be imported."""

import advkit_dependency_that_does_not_exist  # noqa: F401
