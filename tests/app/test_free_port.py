"""`free_port` picks outside the range the OS hands out, so nobody takes it by accident."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from zerogate.app import _serve, free_port

RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def test_the_port_is_below_the_ephemeral_range_and_can_be_bound() -> None:
    low = int(RANGE.read_text().split()[0])
    ports = {free_port() for _ in range(20)}
    assert all(10000 <= p < low for p in ports)
    assert len(ports) > 1  # spread out, not one fixed port every caller fights over
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports.pop()))


def test_a_port_taken_on_purpose_is_not_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", free_port()))
        taken = holder.getsockname()[1]
        picks = iter([taken - 10000, taken - 10000, taken + 1 - 10000])
        monkeypatch.setattr(_serve.secrets, "randbelow", lambda _n: next(picks))
        assert free_port() == taken + 1
