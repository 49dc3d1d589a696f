"""The files a machine shows: ``m.cat(path)`` and ``m.ls(path)``, as a shell on the box would.

Think of it as the kernel's pseudo file systems without the VFS machinery: procfs, sysctl
(``/proc/sys``) and sysfs are all "files whose contents a function prints when you read
them". Subsystems register their files here at boot, as fs/proc/, kernel/sysctl.c and
mm/slub.c ``sysfs_slab_add()`` do in the kernel:

- a *file* is a path and a show function ``show(k) -> str`` (``proc_create_single()``,
  a ``ctl_table`` entry, a ``slab_attribute``);
- a *tree* is a directory whose entries are computed when it is read (``/sys/kernel/slab``
  has one entry per cache): ``resolve(k, parts) -> File | Dir | Link | None``.

Only what the model knows is there: ``ls /proc`` lists the modelled files, not the
hundreds a real ``/proc`` has. A path the model does not know raises
:class:`FileNotFoundError` whose message is the shell's (``cat: /proc/foo: No such file or
directory``); reading a directory raises :class:`IsADirectoryError`; a show function may
raise :class:`OSError` itself (as a ``show()`` returning ``-ENOSYS`` does).

The registry hangs off the machine's state (``k.vfs``), so two machines never share one,
and a snapshot carries it along.
"""

from __future__ import annotations

import errno
import os
import posixpath
from typing import Callable, NamedTuple

__all__ = ["VFS", "File", "Dir", "Link", "Listing", "enoent"]


class File(NamedTuple):
    """A regular file: ``show(k)`` returns its whole contents."""
    show: Callable


class Dir(NamedTuple):
    """A directory: ``names(k)`` returns its entries (any order; ``ls`` sorts them)."""
    names: Callable


class Link(NamedTuple):
    """A symbolic link, ``target`` relative to the directory holding it (as sysfs makes them)."""
    target: str


class _ShellMessage:
    """An OSError whose text is the shell's (``cat: PATH: No such file or directory``), with
    ``errno``, ``strerror`` and ``filename`` set like any OSError."""

    def __str__(self) -> str:
        return self.shell_message


class _NoSuchFile(_ShellMessage, FileNotFoundError):
    pass


class _IsADirectory(_ShellMessage, IsADirectoryError):
    pass


class _OtherError(_ShellMessage, OSError):
    pass


def _oserror(cls, code: int, cmd: str, path: str) -> OSError:
    cls = {FileNotFoundError: _NoSuchFile, IsADirectoryError: _IsADirectory}.get(cls, _OtherError)
    e = cls(code, os.strerror(code), path)
    e.shell_message = f"{cmd}: {path}: {os.strerror(code)}"
    return e


def enoent(cmd: str, path: str) -> FileNotFoundError:
    """``cmd: path: No such file or directory``."""
    return _oserror(FileNotFoundError, errno.ENOENT, cmd, path)


class Listing(list):
    """What ``m.ls()`` returns: the entry names sorted as ``LC_ALL=C ls`` sorts them (byte
    order: ``:0000064`` before ``AF_VSOCK`` before ``kmalloc-64``), one per line when printed."""

    def __str__(self) -> str:
        return "\n".join(self)

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


class VFS:
    """The registry of one machine's files (``k.vfs``)."""

    def __init__(self):
        self._files: dict[str, File] = {}
        self._trees: dict[str, Callable] = {}

    def __deepcopy__(self, memo):
        new = VFS()                     # show functions are code: shared, not copied
        new._files = dict(self._files)
        new._trees = dict(self._trees)
        return new

    # -- registration (at boot) ------------------------------------------------------

    def register(self, path: str, show: Callable) -> None:
        """A file at ``path`` whose contents ``show(k)`` returns. Its parent directories
        exist implicitly."""
        self._files[path] = File(show)

    def register_tree(self, path: str, resolve: Callable) -> None:
        """A directory at ``path`` whose contents ``resolve(k, parts)`` computes: ``parts``
        is the path below it as a tuple (``()`` for the directory itself)."""
        self._trees[path] = resolve

    # -- look-up ---------------------------------------------------------------------

    @staticmethod
    def normalize(path) -> str:
        """An absolute path without ``//``, ``.`` or ``..`` (what the shell would open)."""
        try:
            path = os.fspath(path)
        except TypeError:
            raise TypeError(f"a path must be a string like '/proc/meminfo', got {type(path).__name__} "
                            f"{path!r}") from None
        if isinstance(path, bytes):
            path = path.decode()
        if not path.startswith("/"):
            raise ValueError(f"give an absolute path such as '/proc/meminfo' or "
                             f"'/sys/kernel/slab/kmalloc-64/order', got {path!r}")
        return posixpath.normpath("/" + path.lstrip("/"))

    def _children(self, k, path: str) -> set[str] | None:
        """Entries of ``path`` coming from registered files and trees below it, or None
        when nothing is registered below it."""
        prefix = "/" if path == "/" else path + "/"
        names = set()
        for p in list(self._files) + list(self._trees):
            if p.startswith(prefix):
                names.add(p[len(prefix):].split("/", 1)[0])
        return names if names or path == "/" else None

    def lookup(self, k, path: str, cmd: str, follow: bool = True, depth: int = 0):
        """The node at normalised ``path``: a File, Dir or (with ``follow=False``) Link."""
        if depth > 8:
            raise _oserror(OSError, errno.ELOOP, cmd, path)
        node = self._files.get(path)
        if node is not None:
            return node
        for root, resolve in self._trees.items():
            if path == root or path.startswith(root + "/"):
                rel = tuple(p for p in path[len(root):].split("/") if p)
                node = resolve(k, rel)
                if isinstance(node, Link) and follow:
                    target = posixpath.normpath(posixpath.join(posixpath.dirname(path), node.target))
                    return self.lookup(k, target, cmd, True, depth + 1)
                if node is not None:
                    return node
                raise enoent(cmd, path)
        names = self._children(k, path)
        if names is None:
            raise enoent(cmd, path)
        return Dir(lambda k, _n=frozenset(names): _n)

    def cat(self, k, path) -> str:
        path = self.normalize(path)
        node = self.lookup(k, path, "cat")
        if isinstance(node, Dir):
            raise _oserror(IsADirectoryError, errno.EISDIR, "cat", path)
        return node.show(k)

    def ls(self, k, path) -> Listing:
        path = self.normalize(path)
        node = self.lookup(k, path, "ls")
        if not isinstance(node, Dir):
            return Listing([path])                     # `ls FILE` prints the file's name
        names = set(node.names(k))
        if path != "/" and (extra := self._children(k, path)):
            names |= extra
        return Listing(sorted(names, key=lambda n: n.encode()))
