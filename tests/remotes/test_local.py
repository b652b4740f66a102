"""The local-directory remote runs the remote contract (lode.testing.remote)."""

from __future__ import annotations

import pytest

from lode.testing.remote import RemoteContract, open_remote


class TestContract(RemoteContract):
    @pytest.fixture
    def remote(self, tmp_path):
        r = open_remote(str(tmp_path / "store"))
        yield r
        r.close()
