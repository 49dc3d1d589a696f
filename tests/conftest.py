"""Shared fixtures: ``machine`` (one booted Machine per profile and kernel generation) and
``state_of`` (:func:`machines.fingerprint`). The helpers themselves live in machines.py.

``KMEMLAB_HYPOTHESIS=quick`` caps every property test and state machine at
:data:`QUICK` examples and steps. The main job (``./run test``) never sets it and runs
each at the size its test asks for; the lowest-versions and other-Python jobs
(tests/test_packaging_lowest.py, tests/test_packaging_pythons.py) set it for the run
they start in their own venv: they are there to catch a dependency release or a Python
that behaves differently, which shows on the first examples, not to search the state
space again."""

from __future__ import annotations

import os
import unittest

import pytest
from hypothesis import settings

import kmemlab as km

from machines import MACHINES, boot, fingerprint

#: the caps under KMEMLAB_HYPOTHESIS=quick (a test asking for fewer keeps its own)
QUICK = {"max_examples": 5, "stateful_step_count": 15}
settings.register_profile("quick", **QUICK)     # tests that set nothing themselves
if os.environ.get("KMEMLAB_HYPOTHESIS") == "quick":
    settings.load_profile("quick")


def _capped(s: settings) -> settings:
    return settings(s, **{k: min(getattr(s, k), v) for k, v in QUICK.items()})


def pytest_collection_modifyitems(config, items):
    """Under KMEMLAB_HYPOTHESIS=quick, cap the settings a test gave explicitly (they win
    over a profile): ``@settings(...)`` on a ``@given`` test, ``TestCase.settings`` of a
    state machine."""
    if os.environ.get("KMEMLAB_HYPOTHESIS") != "quick":
        return
    done: set[int] = set()
    for item in items:
        fn = getattr(getattr(item, "obj", None), "__func__", getattr(item, "obj", None))
        own = getattr(fn, "_hypothesis_internal_use_settings", None)   # what @given reads
        if isinstance(own, settings) and id(fn) not in done:
            fn._hypothesis_internal_use_settings = _capped(own)
            done.add(id(fn))
        cls = getattr(item, "cls", None)
        if (cls is not None and issubclass(cls, unittest.TestCase) and id(cls) not in done
                and isinstance(cls.__dict__.get("settings"), settings)):
            cls.settings = _capped(cls.settings)                    # a state machine's TestCase
            done.add(id(cls))


@pytest.fixture(params=MACHINES, ids=[f"{p}-{k}" for p, k in MACHINES])
def machine(request) -> km.Machine:
    """A freshly booted 2-CPU machine, once per (profile, kernel) of :data:`MACHINES`."""
    profile, kernel = request.param
    return boot(profile, kernel)


@pytest.fixture
def state_of():
    """``state_of(m)``: the machine's :func:`fingerprint`."""
    return fingerprint


@pytest.fixture(autouse=True)
def _views_speak_english_again():
    """A test that runs a Japanese lecture's cells in this process calls
    km.widgets.set_language("ja"): put the views' default language back after every test,
    so the tests after it see the English labels they check."""
    yield
    try:
        from kmemlab.widgets.messages import set_language
    except ImportError:                  # a job without the widget stack
        return
    set_language("en")
