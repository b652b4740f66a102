"""md5 of files: streamed in large blocks, many files in parallel, or while copying.

md5 cannot be split within one file, so the levers are: never rehash an unchanged file
(statcache), hash many files at once (hashlib and file I/O release the GIL), and hash a
large file while it is being copied, so it is read once (`copy_with_md5`).
"""

from __future__ import annotations

import hashlib
import mmap
import os
import queue
import threading

from lode.atomic import final_name, name_failure

BLOCK = 1 << 20
SMALL = 4 << 20  # read in one call below this size
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def md5_file(path: str) -> str:
    """A small file is one read (no 1 MiB buffer to allocate and zero: push rehashes every
    object it sends, 20,000 small ones at a time); a large one streams through a buffer."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size < SMALL:
            return hashlib.md5(read_all(fd, size)).hexdigest()
        h = hashlib.md5()
        buf = bytearray(BLOCK)
        view = memoryview(buf)
        while n := os.readv(fd, [buf]):
            h.update(view[:n])
        return h.hexdigest()
    finally:
        os.close(fd)


_TEXT_CHARS = bytes(range(32, 127)) + b"\n\r\t\f\b"


def _is_text_block(block: bytes) -> bool:
    if not block:
        return True
    if b"\0" in block:
        return False
    return len(block.translate(None, _TEXT_CHARS)) / len(block) <= 0.30


def md5_dos2unix_file(path: str) -> str:
    """DVC 2.x's `md5-dos2unix`: per 1 MiB block, CRLF -> LF when the block looks like text
    (docs/formats.md). Only to compare with 2.x entries; lode never writes such hashes."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            h.update(block.replace(b"\r\n", b"\n") if _is_text_block(block[:512]) else block)
    return h.hexdigest()


def copy_with_md5(src_fd: int, dst_fd: int, size_hint: int = 0,
                  dst_name: str | None = None) -> tuple[str, int]:
    """Copy src to dst and return (md5, bytes) in one read pass. An OSError (a full disk)
    names `dst_name`, or the file `dst_fd` is open on.

    Small inputs are one read, one hash, one write. Large ones are mapped and hashed here
    while a writer thread writes the same pages out: on two cores the copy then costs
    little more than the hash alone (`add` of 1 GiB near `md5sum`'s time).
    """
    h = hashlib.md5()
    try:
        if 0 <= size_hint < SMALL:  # the common case stays free of threads
            data = read_all(src_fd, size_hint)
            h.update(data)
            _write_all(dst_fd, data)
            return h.hexdigest(), len(data)
        return _copy_large(src_fd, dst_fd, h)
    except OSError as e:  # a full disk says so by descriptor: name the file for the user
        raise name_failure(e, dst_name or _fd_name(dst_fd)) from None


def _fd_name(fd: int) -> str:
    """The file open as `fd` (what a temporary name of lode.atomic stands for)."""
    try:
        return final_name(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:  # no /proc here
        return f"file descriptor {fd}"


def _copy_large(src_fd: int, dst_fd: int, h) -> tuple[str, int]:
    """Map the source once; this thread hashes block i while a writer thread writes it out.
    The bytes are read from the page cache once and never copied into Python buffers."""

    size = os.fstat(src_fd).st_size
    todo: queue.Queue = queue.Queue(maxsize=4)
    error: list[BaseException] = []

    def writer() -> None:
        while (view := todo.get()) is not None:
            try:
                if not error:
                    _write_all(dst_fd, view)
            except BaseException as e:  # handed to the hashing thread, without the frames:
                # they hold views of the mapping, which could then never be closed
                error.append(e.with_traceback(None))
            finally:
                view.release()

    with mmap.mmap(src_fd, 0, access=mmap.ACCESS_READ) as mapped:
        if hasattr(mapped, "madvise"):
            mapped.madvise(mmap.MADV_SEQUENTIAL)
        whole = memoryview(mapped)
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        try:
            for off in range(0, size, 4 * BLOCK):
                if error:
                    break
                view = whole[off : off + 4 * BLOCK]
                h.update(view)
                todo.put(view)
        finally:
            todo.put(None)
            thread.join()
            whole.release()
    if error:
        raise error[0]
    return h.hexdigest(), size


def read_all(fd: int, size_hint: int) -> bytes:
    """The rest of a small file: one read when the size is right, whatever it has become."""
    parts = []
    while chunk := os.read(fd, size_hint + 1 if size_hint else BLOCK):
        parts.append(chunk)
    return b"".join(parts)


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
