"""``import locust`` under ``stampede``: a ``sys.meta_path`` finder (design 5.1).

``install()`` puts ``LocustAlias`` first on ``sys.meta_path``. It answers for ``locust`` and
``locust.*`` only and hands back the *same module objects* as ``stampede.compat.*``, so
``locust.User is stampede.compat.User`` and ``isinstance`` checks agree whichever name a file
used. ``locust.events`` is the ``Events`` instance, as ``from locust import events`` gives it.
A ``locust.x`` that ``stampede.compat`` does not have is refused by name.

Nothing changes until ``install()`` is called: a venv that also has real Locust keeps
``locust -f`` working, and ``uninstall()`` undoes it (tests).

Why aliases are registered eagerly: after loading ``a.b.c`` the import system sets attribute
``c`` on ``a.b``. ``stampede.compat.user`` binds ``task`` to the decorator, which would be
replaced by the ``task`` module if ``locust.user.task`` were loaded through the finder. So
every already-imported ``stampede.compat.*`` module is put in ``sys.modules`` under its
``locust.*`` name as soon as ``locust`` is found; the import system then finds them there
and sets nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from importlib.machinery import ModuleSpec

_ALIAS = "locust"
_TARGET = "stampede.compat"


class UnsupportedLocustAPI(ModuleNotFoundError):
    """An import of a ``locust.*`` module Stampede does not provide (the front exits 2)."""


class LocustAlreadyImported(RuntimeError):
    """Real Locust was imported before the finder was installed."""


class _AliasLoader:
    """Returns an already-imported module as the module being loaded; executes nothing."""

    def __init__(self, target):
        self._target = target
        self._target_spec = getattr(target, "__spec__", None)

    def create_module(self, spec):
        return self._target

    def exec_module(self, module):
        # The import system has just set ``module.__spec__`` to the alias's spec. Put the real
        # one back, so relative imports and ``importlib.reload`` inside compat keep working.
        if self._target_spec is not None:
            try:
                module.__spec__ = self._target_spec
            except AttributeError:
                pass


class LocustAlias:
    """The meta path finder for ``locust`` and ``locust.*``."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _ALIAS and not fullname.startswith(_ALIAS + "."):
            return None
        target_name = _TARGET + fullname[len(_ALIAS) :]
        if fullname == _ALIAS + ".events":
            module = importlib.import_module(_TARGET).events
        else:
            module = _import_target(fullname, target_name)
        sync_aliases(skip=fullname)
        is_package = hasattr(module, "__path__")
        return ModuleSpec(fullname, _AliasLoader(module), is_package=is_package)


def _import_target(fullname, target_name):
    """Imports ``stampede.compat.<rest>``, or refuses the ``locust`` name if there is none."""
    try:
        spec = importlib.util.find_spec(target_name)
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        raise UnsupportedLocustAPI(
            f"unsupported API: {fullname} (Stampede's Python front does not provide it)", name=fullname
        )
    return importlib.import_module(target_name)


def sync_aliases(skip=None):
    """Registers every imported ``stampede.compat.*`` module under its ``locust.*`` name (and
    ``locust.events`` as the Events instance). Existing entries are left alone.

    ``skip`` is the name being found: the import system registers that one itself. Were it
    in ``sys.modules`` already, ``_find_spec`` would return the *module's* own spec and the
    import system would execute the compat module a second time."""
    prefix = _TARGET + "."
    aliases = [(_ALIAS + n[len(_TARGET) :], m) for n, m in list(sys.modules.items()) if n == _TARGET or n.startswith(prefix)]
    compat = sys.modules.get(_TARGET)
    if compat is not None and hasattr(compat, "events"):
        aliases.append((_ALIAS + ".events", compat.events))
    for alias, module in aliases:
        if alias != skip:
            sys.modules.setdefault(alias, module)


def _is_alias(module) -> bool:
    """True if ``module`` came from stampede.compat (a module or the Events instance)."""
    name = getattr(getattr(module, "__spec__", None), "name", None) or getattr(module, "__name__", "")
    return name == _TARGET or str(name).startswith(_TARGET + ".") or type(module).__module__ == _TARGET + ".event"


def install() -> None:
    """Makes ``import locust`` give ``stampede.compat``. Idempotent. Raises
    ``LocustAlreadyImported`` if real Locust is already in ``sys.modules``."""
    existing = sys.modules.get(_ALIAS)
    if existing is not None and not _is_alias(existing):
        where = getattr(existing, "__file__", None) or repr(existing)
        raise LocustAlreadyImported(f"real Locust was imported before Stampede's locust shim ({where})")
    if not any(isinstance(f, LocustAlias) for f in sys.meta_path):
        sys.meta_path.insert(0, LocustAlias())


def uninstall() -> None:
    """Removes the finder and every ``locust``/``locust.*`` alias from ``sys.modules``."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, LocustAlias)]
    for name in [n for n in sys.modules if n == _ALIAS or n.startswith(_ALIAS + ".")]:
        if _is_alias(sys.modules[name]):
            del sys.modules[name]


def installed() -> bool:
    return any(isinstance(f, LocustAlias) for f in sys.meta_path)
