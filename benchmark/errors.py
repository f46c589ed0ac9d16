"""The suite's user errors and registry lookups: one clear message naming the fix.

`ConfigError` (a config, profile, override or input the suite cannot use) and
`UnknownNameError` (a key missing from its registry) are what the command line turns into one
line and exit status 2; everything else is a bug and keeps its traceback.
"""


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
