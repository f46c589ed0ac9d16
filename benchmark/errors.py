"""The suite's user errors and registry lookups: one clear message naming the fix.

`ConfigError` (a config, profile, override or input the suite cannot use) and
`UnknownNameError` (a key missing from its registry) are what the command line turns into one
line and exit status 2; everything else is a bug and keeps its traceback.
"""

import importlib.util


class ConfigError(ValueError):
    """A config, profile or override the suite cannot use; the message names the fix."""


class UnknownNameError(KeyError):
    """A task, model or metric key that is not in its registry."""

    def __str__(self) -> str:
        return str(self.args[0])


def lookup(registry: dict, key: str, what: str):
    """``registry[key]`` or an error listing the valid keys."""
    if key not in registry:
        raise UnknownNameError(f"unknown {what} {key!r}; choose from: {', '.join(registry)}")
    return registry[key]


def build(factory, where: str, **kwargs):
    """Call ``factory(**kwargs)``; a refused key or value becomes a `ConfigError` naming where."""
    try:
        return factory(**kwargs)
    except TypeError as err:
        if "argument" not in str(err):
            raise
        raise ConfigError(
            f"{where}: {err}. Fix the key in the YAML or the --set override."
        ) from err
    except ValueError as err:  # a value the class refuses (an unknown attribute, a mask too big)
        raise ConfigError(f"{where}: {err}") from err


def require_extra(module: str, extra: str, feature: str) -> None:
    """Stop with the install command when an optional dependency of ``feature`` is missing."""
    if importlib.util.find_spec(module) is None:
        raise ConfigError(
            f"{feature} needs {module}, an optional dependency: pip install 'cgbench[{extra}]'"
        )
