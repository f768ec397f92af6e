"""The fuzz and fault suite shares the server tests' fixtures and helpers (tests/server/)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SERVER_TESTS = Path(__file__).resolve().parents[1] / "server"
sys.path.insert(0, str(SERVER_TESTS))

_spec = importlib.util.spec_from_file_location("server_test_fixtures", SERVER_TESTS / "conftest.py")
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

start_server = _fixtures.start_server
start_workers = _fixtures.start_workers
spawn = _fixtures.spawn
raw_peer = _fixtures.raw_peer
