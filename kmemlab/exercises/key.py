"""The course key: the one secret an instructor keeps (issue 15).

A course key is 32 random bytes in a small text file (``kmemlab key new course.key``
writes one, readable by its owner only). It does three things, and nothing else:

* **binds seeds to students**: a student's seed is ``HMAC-SHA256(key, student id)``, so
  the grader computes it from the roster and nobody without the key can tell which seed a
  student id gets (:meth:`CourseKey.seed_for`);
* **signs what ``kmemlab assign`` hands to ``kmemlab grade``** (the manifest), so a
  changed manifest is refused (:meth:`CourseKey.sign`);
* **unlocks solutions**: ``ex.solution(key=...)`` and ``kmemlab exercise -c --key FILE``.
  There is no environment variable and no ``force=True``: a value a student's own notebook
  can set is no lock.

What the key cannot do, said plainly: kmemlab is the simulator the course teaches with,
so a student can always *compute* an answer with it — run the scenario, read ``/proc``,
even rerun an exercise's generator. The key keeps answers out of casual reach (no
attribute, no switch); it is not a wall. Grades stay honest anyway because the grader
recomputes every answer in its own process (:mod:`kmemlab.grading`), and graded questions
ask for predictions and reasoning (docs/grading.md).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

__all__ = ["CourseKey", "KEY_FORMAT", "SEED_BITS"]

#: first word of a key file; the number is the format version
KEY_FORMAT = "kmemlab-course-key/1"
#: student seeds are this many bits: short enough to read aloud, 2**31 of them
SEED_BITS = 31


class CourseKey:
    """An instructor's course key (32 bytes). Load one with :meth:`load`, make one with
    :meth:`new`; ``CourseKey.coerce(x)`` accepts a CourseKey, a path to a key file, or the
    file's text."""

    __slots__ = ("_secret", "source")

    def __init__(self, secret: bytes, source: str = "<value>"):
        if not isinstance(secret, (bytes, bytearray)) or len(secret) < 16:
            raise ValueError("a course key needs at least 16 secret bytes")
        self._secret = bytes(secret)
        self.source = source

    # -- making and reading keys ----------------------------------------------------

    @classmethod
    def new(cls, path) -> "CourseKey":
        """Write a fresh key to ``path`` (mode 0600; refuses to overwrite a file)."""
        path = Path(path)
        secret = secrets.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise ValueError(f"{path} exists already; a course key is never overwritten "
                             "(every student's seed depends on it)") from None
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(f"{KEY_FORMAT} {secret.hex()}\n"
                    "# kmemlab course key: keep it secret, keep a backup. Every student's seed\n"
                    "# and every manifest of this course depend on it.\n")
        return cls(secret, str(path))

    @classmethod
    def parse(cls, text: str, source: str = "<value>") -> "CourseKey":
        """The key in a key file's text (``kmemlab-course-key/1 <64 hex digits>``)."""
        words = text.split()
        if len(words) < 2 or words[0] != KEY_FORMAT:
            raise ValueError(f"{source}: not a kmemlab course key (it should start with "
                             f"{KEY_FORMAT!r}; `kmemlab key new FILE` writes one)")
        try:
            secret = bytes.fromhex(words[1])
        except ValueError:
            raise ValueError(f"{source}: the key is not hexadecimal") from None
        if len(secret) < 16:
            raise ValueError(f"{source}: the key is too short ({len(secret)} bytes, need 16 or more)")
        return cls(secret, source)

    @classmethod
    def load(cls, path) -> "CourseKey":
        """Read a key file (a FIFO or a device is refused, so reading cannot hang)."""
        path = Path(path)
        try:
            st = path.stat()
        except OSError as e:
            raise ValueError(f"{path}: cannot read the course key ({e.strerror}); "
                             "`kmemlab key new FILE` writes one") from None
        import stat as _stat
        if not _stat.S_ISREG(st.st_mode):
            raise ValueError(f"{path}: the course key must be a regular file")
        if st.st_size > 4096:
            raise ValueError(f"{path}: too large to be a course key")
        return cls.parse(path.read_text(encoding="ascii", errors="replace"), str(path))

    @classmethod
    def coerce(cls, key) -> "CourseKey":
        """A CourseKey from a CourseKey, a path (str or PathLike) or a key file's text."""
        if isinstance(key, CourseKey):
            return key
        if isinstance(key, os.PathLike):
            return cls.load(key)
        if isinstance(key, str):
            if key.lstrip().startswith(KEY_FORMAT):
                return cls.parse(key)
            return cls.load(key)
        raise TypeError("pass the course key as a CourseKey, the path of its file or the "
                        f"file's text, not {type(key).__name__}")

    # -- what the key does ----------------------------------------------------------

    def _mac(self, purpose: str, data: bytes) -> bytes:
        return hmac.new(self._secret, purpose.encode() + b"\0" + data, hashlib.sha256).digest()

    def seed_for(self, student_id: str) -> int:
        """The seed of ``student_id``: the first 31 bits of HMAC-SHA256(key, id). The same
        on every machine and Python, different for every course key."""
        if not isinstance(student_id, str) or not student_id:
            raise ValueError(f"a student id is a non-empty str, got {student_id!r}")
        mac = self._mac("kmemlab-seed/1", student_id.encode("utf-8"))
        return int.from_bytes(mac[:8], "big") & ((1 << SEED_BITS) - 1)

    def sign(self, data: bytes) -> str:
        """A hex HMAC of ``data`` (the grader refuses a manifest whose signature differs)."""
        return self._mac("kmemlab-manifest/1", data).hex()

    def verify(self, data: bytes, signature: str) -> bool:
        return isinstance(signature, str) and hmac.compare_digest(self.sign(data), signature)

    @property
    def key_id(self) -> str:
        """A short public name of the key (so a manifest says which key signed it)."""
        return self._mac("kmemlab-key-id/1", b"").hex()[:16]

    def __repr__(self) -> str:
        return f"<CourseKey {self.key_id} from {self.source}>"

    def __reduce__(self):
        raise TypeError("a course key is not pickled (it would leave the instructor's process)")
