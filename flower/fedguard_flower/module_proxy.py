"""A module as one Flower module sees it, with some of its functions replaced.

FedGuard's launchers change how a Flower module sleeps or starts processes by giving that module
(and only it) a proxy of `time` or `subprocess`; the rest of the process keeps the real ones.
"""

import types


def module_with(module: types.ModuleType, **replacements) -> types.ModuleType:
    """A copy of `module`'s public names with `replacements` (name → object) in place of some."""
    proxy = types.ModuleType(module.__name__)
    proxy.__dict__.update({name: getattr(module, name) for name in dir(module) if not name.startswith("__")})
    proxy.__dict__.update(replacements)
    return proxy
