"""lode.parallel: the same results, in order, from threads and from forked workers."""

import os
import signal

import pytest

from lode.errors import LodeError
from lode.parallel import WorkerDied, parallel_map
from lode.store.statcache import StatCache, stat_key


@pytest.mark.parametrize("processes", [False, True])
def test_results_in_order(processes):
    items = list(range(5000))
    assert parallel_map(lambda x: x * 2, items, jobs=3, processes=processes) == [
        x * 2 for x in items
    ]


def test_processes_are_forked_children():
    parent = os.getpid()
    pids = set(parallel_map(lambda _: os.getpid(), range(4000), jobs=2, processes=True))
    assert len(pids) == 2 and parent not in pids


def test_small_work_stays_in_process():
    parent = os.getpid()
    assert set(parallel_map(lambda _: os.getpid(), range(100), jobs=2, processes=True)) == {
        parent
    }


def test_a_workers_error_reaches_the_caller():
    def fn(x):
        if x == 3000:
            raise LodeError("item 3000 is bad.")
        return x

    with pytest.raises(LodeError, match="item 3000 is bad"):
        parallel_map(fn, range(4000), jobs=2, processes=True)


def test_a_killed_worker_is_an_error_not_short_results():
    def fn(x):
        if x == 3500:
            os.kill(os.getpid(), signal.SIGKILL)
        return x

    with pytest.raises(WorkerDied, match="rerun"):
        parallel_map(fn, range(4000), jobs=2, processes=True)


def test_workers_never_touch_the_parents_stat_cache(tmp_path):
    """SQLite connections do not survive fork: a worker reads and writes a private empty
    table, and the parent's database stays usable and unchanged by the workers."""
    f = tmp_path / "f"
    f.write_bytes(b"x")
    st = stat_key(os.stat(f))
    cache = StatCache(str(tmp_path / "db" / "stat.db"))
    cache.put_trusted([(str(f), st, "a" * 32)])
    assert cache.get(str(f), st) == "a" * 32  # the parent's connection is open and used

    def fn(i):
        seen = cache.get(str(f), st)
        cache.put_trusted([(f"{tmp_path}/child{i}", st, "b" * 32)])
        cache.flush()
        return seen

    seen = parallel_map(fn, range(2000), jobs=2, processes=True)
    assert set(seen) == {None}  # a worker's table is empty
    assert cache.get(str(f), st) == "a" * 32
    assert cache.get_prefix(str(tmp_path)).keys() == {b"f"}
    cache.close()


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
