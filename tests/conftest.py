"""Shared fixtures: ``machine`` (one booted Machine per profile and kernel generation) and
``state_of`` (:func:`machines.fingerprint`). The helpers themselves live in machines.py."""

from __future__ import annotations

import pytest

import kmemlab as km

from machines import MACHINES, boot, fingerprint


@pytest.fixture(params=MACHINES, ids=[f"{p}-{k}" for p, k in MACHINES])
def machine(request) -> km.Machine:
    """A freshly booted 2-CPU machine, once per (profile, kernel) of :data:`MACHINES`."""
    profile, kernel = request.param
    return boot(profile, kernel)


@pytest.fixture
def state_of():
    """``state_of(m)``: the machine's :func:`fingerprint`."""
    return fingerprint
