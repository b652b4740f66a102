"""Which configuration options hold a credential: the one predicate that remotes, notifiers,
`lode config -l` and `lode doctor` share.

A plugin's declared secrets count, and so does any option whose name says it is one, so
the check works without importing a plugin (`lode status` warns cheaply, and an unknown
scheme is still judged by its option names).
"""

from __future__ import annotations

from collections.abc import Iterable

MASK = "***"
SECRET_WORDS = ("secret", "token", "password", "webhook", "access_key", "auth_header")
# Names that contain a word above, or are common remote options, yet hold no credential.
NOT_SECRET = frozenset({
    "url", "jobs", "verify", "push", "worktree", "version_aware",  # every remote's options
    "endpointurl", "region", "profile", "credentialpath", "keyfile", "user", "auth",
    "ssl_verify", "use_ssl", "ask_password",
})


def is_secret(key: str, declared: Iterable[str] = ()) -> bool:
    """Whether option `key` holds a credential: one of the plugin's `declared` secrets, or
    an option whose name says it is one."""
    if key in declared:
        return True
    return key not in NOT_SECRET and any(w in key for w in SECRET_WORDS)
