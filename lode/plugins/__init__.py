"""The public plugin API: declared options, the `Plugin` base every kind of plugin derives
from (Remote, Notifier, Executor, Exporter), and the registry that finds plugins through
their entry-point groups and checks what they export before the core uses it.

A plugin declares its options as `Option`s; the declarations of its base classes are
inherited, and one of the same name overrides them. Older declarations (a set of option
names, a `secrets` tuple, an `env` mapping) keep working: every class gets the merged
`secrets` and `env` views either way.

This package imports only lode.errors and core modules: a plugin imports it, and the
plugins' import contract (pyproject.toml) counts indirect imports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import ClassVar, Generic, TypeVar

from lode.errors import LodeError, PluginError, UnknownPlugin

_NAME = re.compile(r"[a-z][a-z0-9_]*")


class Option:
    """One configuration option of a plugin: its name, one line of help, whether it is a
    credential (never in a tracked file, masked in listings), and the environment variable
    that overrides it, if any. (A plain class: a dataclass compiles code at import, and
    `lode status` imports this module.)"""

    __slots__ = ("name", "help", "secret", "env")

    def __init__(self, name: str, help: str = "", secret: bool = False,
                 env: str | None = None) -> None:
        self.name, self.help, self.secret, self.env = name, help, secret, env

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Option) and (self.name, self.help, self.secret, self.env) \
            == (other.name, other.help, other.secret, other.env)

    def __hash__(self) -> int:
        return hash((self.name, self.help, self.secret, self.env))

    def __repr__(self) -> str:
        return f"Option({self.name!r}, secret={self.secret})"


def _as_option(entry: Option | str) -> Option:
    return entry if isinstance(entry, Option) else Option(str(entry))


class Plugin:
    """What every plugin class has: declared options."""

    options: ClassVar[Iterable[Option | str]] = ()
    # Derived from the options (and kept for older plugins that declare them directly).
    secrets: ClassVar[tuple[str, ...]] = ()
    env: ClassVar[dict[str, str]] = {}
    # a name no plugin picks for its own attribute: the merged declarations live here
    _lode_declared_options: ClassVar[dict[str, Option]] = {}

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        own = vars(cls)
        declared = dict(cls._lode_declared_options)  # the nearest base's, merged already
        try:
            if "options" in own:
                declared.update((o.name, o) for o in map(_as_option, own["options"]))
        except TypeError:
            pass  # not iterable: `problems` says so when the plugin is loaded
        cls._lode_declared_options = declared
        secrets = [n for n, o in declared.items() if o.secret]
        legacy = own.get("secrets")
        if isinstance(legacy, (tuple, list, set, frozenset)):
            secrets += [s for s in legacy if s not in secrets]
        else:
            secrets += [s for s in super(cls, cls).secrets if s not in secrets]
        cls.secrets = tuple(secrets)
        env = {n: o.env for n, o in declared.items() if o.env}
        legacy_env = own.get("env")
        env = {**super(cls, cls).env, **env,
               **(legacy_env if isinstance(legacy_env, dict) else {})}
        cls.env = env

    @classmethod
    def declared_options(cls) -> dict[str, Option]:
        """name -> Option, the base classes' included."""
        return dict(cls._lode_declared_options)

    @classmethod
    def option_names(cls) -> frozenset[str]:
        return frozenset(cls._lode_declared_options)

    @classmethod
    def problems(cls) -> list[str]:
        """What is wrong with the class's declarations, one phrase each (empty: sound).
        A base adds its own checks (a remote's schemes, ...)."""
        found = []
        for klass in cls.__mro__:
            raw = vars(klass).get("options")
            if raw is None:
                continue
            if isinstance(raw, (str, bytes)) or not isinstance(raw, Iterable):
                found.append(f"{klass.__name__}.options is not a collection of Options")
                continue
            names = []
            for entry in raw:
                opt = entry if isinstance(entry, Option) else Option(entry) \
                    if isinstance(entry, str) else None
                if opt is None:
                    found.append(f"{klass.__name__}.options holds {entry!r}, not an Option")
                    continue
                if not _NAME.fullmatch(opt.name):
                    found.append(f"option name {opt.name!r} is not lower_case_with_underscores")
                if not isinstance(opt.help, str) or not isinstance(opt.secret, bool) or \
                        not (opt.env is None or isinstance(opt.env, str)):
                    found.append(f"option {opt.name!r} has a help that is not text, a secret "
                                 "that is not True/False, or an env that is not a name")
                names.append(opt.name)
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                found.append(f"option {dup[0]!r} is declared twice")
        if not all(isinstance(s, str) for s in cls.secrets):
            found.append("secrets are not option names")
        if not isinstance(cls.env, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in cls.env.items()):
            found.append("env does not map option names to variable names")
        return found


P = TypeVar("P")


class Registry(Generic[P]):
    """The plugins of one entry-point group: name -> class, each imported only when asked
    for (a plugin imports its client library, boto3 or requests, at most then), and
    checked to be a subclass of `base` that declares its options well.

        REMOTES = Registry("lode.remotes", Remote, "remote plugin")
        REMOTES.load("s3")  # -> S3Remote, or a PluginError saying what is wrong
    """

    def __init__(self, group: str, base: type[P], what: str) -> None:
        self.group, self.base, self.what = group, base, what
        self._loaded: dict[str, type[P]] = {}

    def _entry_points(self) -> dict:
        from importlib.metadata import entry_points  # a few ms: only when a plugin is asked

        return {ep.name: ep for ep in entry_points(group=self.group)}

    def names(self) -> list[str]:
        """The installed plugins' names; nothing is imported."""
        return sorted(self._entry_points())

    def load(self, name: str) -> type[P]:
        """The class registered as `name`: UnknownPlugin when none is, PluginError when it
        cannot be imported or is not what the group asks for."""
        if name in self._loaded:
            return self._loaded[name]
        ep = self._entry_points().get(name)
        if ep is None:
            installed = ", ".join(self.names()) or "none"
            raise UnknownPlugin(f"there is no {self.what} '{name}' (installed: {installed}).",
                                name=name, why="not installed")
        try:
            obj = ep.load()
        except Exception as e:  # a third party's import error is reported, never a crash
            raise self._broken(name, f"{type(e).__name__}: {e}", e) from None
        self._loaded[name] = self.check(name, obj, ep.value)
        return obj

    def load_as(self, name: str, error: type[LodeError]) -> type[P]:
        """`load`, its failures said in the words of a command that runs one plugin by
        name (`--executor dask`, `lode export argo`) and raised as `error`: an unknown
        name lists the installed ones, a missing package names the extra to install."""
        try:
            return self.load(name)
        except UnknownPlugin:
            raise error(f"unknown {self.what} '{name}'.",
                        f"Installed {self.what}s: {', '.join(self.names()) or 'none'}.") from None
        except PluginError as e:
            if isinstance(e.cause, ImportError):
                raise error(
                    f"{self.what} '{name}' needs a package that is not installed "
                    f"({e.cause.name}).", f"Install it: pip install 'lode[{name}]'.") from None
            raise error(e.message, e.hint) from None

    def load_all(self) -> tuple[dict[str, type[P]], dict[str, PluginError]]:
        """Every installed plugin that loads, and why each of the others does not."""
        found: dict[str, type[P]] = {}
        broken: dict[str, PluginError] = {}
        for name in self.names():
            try:
                found[name] = self.load(name)
            except PluginError as e:
                broken[name] = e
        return found, broken

    def check(self, name: str, obj: object, where: str = "") -> type[P]:
        """`obj` when it is a sound plugin class of this group, else PluginError."""
        base = f"{self.base.__module__}.{self.base.__qualname__}"
        if not (isinstance(obj, type) and issubclass(obj, self.base)):
            raise self._broken(name, f"{where or obj!r} is not a {base} subclass")
        problems = obj.problems() if issubclass(obj, Plugin) else []
        if problems:
            raise self._broken(name, f"{where or obj.__name__} declares its options badly: "
                                     f"{problems[0]}")
        return obj

    def _broken(self, name: str, why: str, cause: BaseException | None = None) -> PluginError:
        return PluginError(f"the {self.what} '{name}' cannot be loaded ({why}).",
                           name=name, why=why, cause=cause,
                           hint="Reinstall lode, or the package that provides that plugin.")
