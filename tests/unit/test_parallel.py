"""lode.parallel: the same results, in order, from threads and from forked workers."""

import os
import subprocess
import sys
import textwrap

import pytest

from lode.parallel import parallel_map


@pytest.mark.parametrize("processes", [False, True])
def test_results_in_order(processes):
    items = list(range(5000))
    assert parallel_map(lambda x: x * 2, items, jobs=3, processes=processes) == [
        x * 2 for x in items
    ]


def in_fresh_python(body: str) -> None:
    """Run `body` in a new interpreter. Forking needs a single-threaded process, and an
    earlier test may leave a library's thread behind in this one (an in-process Dask
    cluster keeps its offload thread for good): then parallel_map rightly takes threads,
    and a worker that kills itself would kill pytest."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(body)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_processes_are_forked_children():
    in_fresh_python("""
        import os
        from lode.parallel import parallel_map
        parent = os.getpid()
        pids = set(parallel_map(lambda _: os.getpid(), range(4000), jobs=2, processes=True))
        assert len(pids) == 2 and parent not in pids, pids
    """)


def test_small_work_stays_in_process():
    parent = os.getpid()
    assert set(parallel_map(lambda _: os.getpid(), range(100), jobs=2, processes=True)) == {
        parent
    }


def test_a_workers_error_reaches_the_caller():
    in_fresh_python("""
        import os
        from lode.errors import LodeError
        from lode.parallel import parallel_map
        parent = os.getpid()
        def fn(x):
            if x == 3000:
                assert os.getpid() != parent  # raised in a forked worker
                raise LodeError("item 3000 is bad.")
            return x
        try:
            parallel_map(fn, range(4000), jobs=2, processes=True)
        except LodeError as e:
            assert "item 3000 is bad" in str(e), e
        else:
            raise SystemExit("no error")
    """)


def test_a_killed_worker_is_an_error_not_short_results():
    in_fresh_python("""
        import os, signal
        from lode.parallel import WorkerDied, parallel_map
        parent = os.getpid()
        def fn(x):
            if x == 3500 and os.getpid() != parent:  # never the test's own process
                os.kill(os.getpid(), signal.SIGKILL)
            return x
        try:
            parallel_map(fn, range(4000), jobs=2, processes=True)
        except WorkerDied as e:
            assert "rerun" in str(e), e
        else:
            raise SystemExit("a killed worker went unnoticed")
    """)


def test_workers_never_touch_the_parents_stat_cache(tmp_path):
    """SQLite connections do not survive fork: a worker reads and writes a private empty
    table, and the parent's database stays usable and unchanged by the workers."""
    in_fresh_python(f"""
        import os
        from lode.parallel import parallel_map
        from lode.store.statcache import StatCache, stat_key
        tmp = {str(tmp_path)!r}
        f = os.path.join(tmp, "f")
        open(f, "wb").write(b"x")
        st = stat_key(os.stat(f))
        cache = StatCache(os.path.join(tmp, "db", "stat.db"))
        cache.put_trusted([(f, st, "a" * 32)])
        assert cache.get(f, st) == "a" * 32  # the parent's connection is open and used

        def fn(i):
            seen = cache.get(f, st)
            cache.put_trusted([(f"{{tmp}}/child{{i}}", st, "b" * 32)])
            cache.flush()
            return seen

        seen = parallel_map(fn, range(2000), jobs=2, processes=True)
        assert set(seen) == {{None}}, set(seen)  # a worker's table is empty
        assert cache.get(f, st) == "a" * 32
        assert cache.get_prefix(tmp).keys() == {{b"f"}}
        cache.close()
    """)


def test_a_threaded_caller_gets_threads_not_forks():
    """Forking beside another thread could copy a held lock into the child forever
    (doit runs stages in threads, and a stage's outputs are committed from there)."""
    import threading

    parent, stop = os.getpid(), threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        pids = set(parallel_map(lambda _: os.getpid(), range(4000), jobs=2, processes=True))
    finally:
        stop.set()
        other.join()
    assert pids == {parent}
