"""Every user-facing failure is one of these; the CLI renders them once."""

from __future__ import annotations


class LodeError(Exception):
    """A failure with a one-sentence message meant for the user."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} {self.hint}"


class UsageError(LodeError):
    """A command line that misuses its options (a flag that needs another, two that
    exclude each other, a value of the wrong form): exit 2, as argparse's own refusals."""

    exit_code = 2


class NotARepoError(LodeError):
    exit_code = 253


class InitError(LodeError):
    pass


class ConfigError(LodeError):
    exit_code = 251


class LockedError(LodeError):
    pass


class TargetError(LodeError):
    """A target that does not exist, escapes the repository, or overlaps another output."""


class PointerError(LodeError):
    """A malformed or unreadable .dvc file."""


class CacheError(LodeError):
    """Missing or corrupt cache objects; `names` lists them for the report."""

    def __init__(self, message: str, names: list[str] | None = None, hint: str | None = None):
        super().__init__(message, hint)
        self.names = names or []


class CheckoutError(CacheError):
    pass


class ModifiedError(LodeError):
    """Refusing to overwrite workspace changes that exist nowhere else."""


class MalformedError(LodeError):
    """A file from outside (a commit, a clone, a remote) that lode cannot read as its
    format says: named with the file and the entry, never used in part."""


class UnsafePathError(MalformedError):
    """A path from a file that would lead outside the workspace, into `.git` or `.dvc`, or
    through a symbolic link."""


class SecretInConfigError(ConfigError):
    """A credential asked to go into the tracked `.dvc/config`."""


class RemoteError(LodeError):
    """A remote that cannot be reached, configured or written as asked."""


class RemoteMissing(RemoteError):
    """An object the remote does not hold."""


class TransientError(RemoteError):
    """A failure worth retrying (a timeout, a reset connection, a 5xx)."""


class PluginError(LodeError):
    """A plugin that is not installed, cannot be imported, or does not implement its
    interface as declared. `name` is its entry-point name, `why` says what is wrong in a
    phrase, `cause` is the exception that loading it raised (if any)."""

    def __init__(self, message: str, name: str = "", why: str = "",
                 cause: BaseException | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.name, self.why, self.cause = name, why, cause


class UnknownPlugin(PluginError):
    """No installed plugin of that kind has the name."""
