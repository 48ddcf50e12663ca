"""Files the tools write (exports, fault logs): never over a capture, never half-written.

An output that exists is refused unless ``force``; a capture is never
overwritten even then (nor any symlink, device or folder).  The content is
written to a private temporary file beside the target (0600), synced, checked
and only then renamed over the target, so a full disk or a crash leaves the
old file (or none) and never a truncated one that looks finished.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .capture import MAGIC, create_private
from .errors import OutputError


def is_capture(path: str | os.PathLike) -> bool:
    """True when ``path`` starts with the capture magic: what output guards check so that no command writes over
    a recording."""
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def check_target(path: str | os.PathLike, force: bool = False, inputs: tuple = ()) -> Path:
    """Refuse a target that must not be written (see the module docstring); returns it as a Path."""
    p = Path(path)
    for src in inputs:
        try:
            if os.path.samefile(src, p):
                raise OutputError(f"{p} is the input itself; refusing to write over it")
        except FileNotFoundError:
            pass
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        if not p.parent.is_dir():
            raise OutputError(f"cannot write {p}: folder {p.parent} does not exist") from None
        return p
    if stat.S_ISLNK(st.st_mode):
        raise OutputError(f"{p} is a symbolic link; refusing to write through it")
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{p} exists and is not a regular file")
    if is_capture(p):
        raise OutputError(f"{p} is a capture; captures are never overwritten (not even with --force)")
    if not force:
        raise OutputError(f"{p} already exists (use --force to replace it)")
    return p


class AtomicOutput:
    """``with AtomicOutput(target, force) as tmp: write tmp`` -> renamed over target on success."""

    def __init__(self, target: str | os.PathLike, force: bool = False, inputs: tuple = ()) -> None:
        self.force = force
        self.target = check_target(target, force, inputs)
        self.tmp = self.target.with_name(f".{self.target.name}.partial-{os.getpid()}")

    def __enter__(self) -> Path:
        os.close(create_private(self.tmp))
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.tmp.unlink(missing_ok=True)
            return
        try:
            fd = os.open(self.tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            if self.force:
                check_target(self.target, True)        # still not a capture, a link or a device
                os.replace(self.tmp, self.target)
            else:
                os.link(self.tmp, self.target)         # fails if it appeared meanwhile: never replaces
                self.tmp.unlink()
        except FileExistsError:
            self.tmp.unlink(missing_ok=True)
            raise OutputError(f"{self.target} appeared while writing; it was left alone") from None
        except OSError as e:
            self.tmp.unlink(missing_ok=True)
            raise OutputError(f"cannot write {self.target} ({e.strerror or e})") from None


def write_together(files: dict[Path, bytes]) -> None:
    """Files that only make sense together (a model, its metadata and its card), none of which exists yet:
    each written to a private temporary name beside it and synced; only when every one is whole are they
    linked to their names (never replacing one that appeared meanwhile).  A full disk or a crash leaves
    none of them, so nothing half-made blocks the next try or loads wrong."""
    tmps: dict[Path, Path] = {}
    done: list[Path] = []
    try:
        for target, data in files.items():
            if os.path.lexists(target):
                raise OutputError(f"{target} already exists; it is never overwritten")
            check_target(target)
            tmp = target.with_name(f".{target.name}.partial-{os.getpid()}")
            fd = create_private(tmp)
            tmps[target] = tmp
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
        for target, tmp in tmps.items():
            os.link(tmp, target)
            done.append(target)
    except FileExistsError as e:
        for t in done:
            t.unlink(missing_ok=True)
        raise OutputError(f"{e.filename2 or e.filename} appeared while writing; nothing was written") from None
    except OSError as e:
        for t in done:
            t.unlink(missing_ok=True)
        raise OutputError(f"cannot write {next(iter(files))} ({e.strerror or e}); nothing was written") from None
    finally:
        for tmp in tmps.values():
            tmp.unlink(missing_ok=True)
