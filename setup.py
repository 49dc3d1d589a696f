"""The one build step pyproject.toml cannot say: the wheel carries the notebooks and docs.

The lectures live in the checkout's ``notebooks/`` (English, ``ja/``, ``exercises/``,
``src/``) and ``docs/``, where lecturers edit them and the tests run them. Building a
wheel copies both into the package as ``kmemlab/share/notebooks`` and
``kmemlab/share/docs``, where :mod:`kmemlab.lectures` finds them once installed, and the
real recordings in ``tests/data/recordings`` as ``kmemlab/share/recordings`` (what
``km.sample_recording()`` returns on a machine that cannot trace).
Whatever is in those folders at build time is shipped (``.ipynb_checkpoints`` and
``__pycache__`` excepted); an editable install (``pip install -e``) copies nothing and
reads the checkout's folders in place.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: checkout folder -> its name under kmemlab/share
SHARED = {"notebooks": "notebooks", "docs": "docs", "tests/data/recordings": "recordings"}
SKIP = {".ipynb_checkpoints", "__pycache__"}


class build_py_with_share(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        share = Path(self.build_lib) / "kmemlab" / "share"
        shutil.rmtree(share, ignore_errors=True)       # no stale file from an older build
        for folder, name in SHARED.items():
            src = ROOT / folder
            if not src.is_dir():
                raise SystemExit(f"setup.py: {src} is missing; build from a checkout or "
                                 "an sdist that has it")
            for f in sorted(src.rglob("*")):
                rel = f.relative_to(src)
                if f.is_file() and not SKIP & set(rel.parts):
                    dest = share / name / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(f, dest)


setup(cmdclass={"build_py": build_py_with_share})
