"""The runner's and the scheduler's pure parts: run ids, the state a record shows, durations,
the `lode runs` table, crontab lines and edits; plus run.json updates and the recipe lock
on real files."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from lode.cli.run import format_duration, format_start, render_runs
from lode.recipes import runs
from lode.recipes.runner import RecipeLock
from lode.recipes.schedule import (
    ScheduleError,
    cron_command,
    cron_line,
    normalize_when,
    project_entries,
    remove_entry,
    replace_entry,
)

UTC = timezone.utc


# --------------------------------------------------------------------------- run ids
def test_run_id_is_readable_and_sorts_by_time_within_a_recipe():
    a = runs.make_run_id("compute_metrics", datetime(2026, 11, 24, 10, 15, 0), "3f2a")
    b = runs.make_run_id("compute_metrics", datetime(2026, 11, 24, 10, 15, 1), "0000")
    c = runs.make_run_id("compute_metrics", datetime(2026, 12, 1, 0, 0, 0), "0000")
    assert a == "compute_metrics-20261124-101500-3f2a"
    assert sorted([c, b, a]) == [a, b, c]


def test_recipe_names_become_safe_file_names():
    assert runs.safe_name("train.v2-big_1") == "train.v2-big_1"
    assert runs.safe_name("a/b c:d") == "a_b_c_d"
    assert runs.safe_name("") == "_"
    assert "/" not in runs.make_run_id("../x", datetime(2026, 1, 1), "0000")


# --------------------------------------------------------------------------- /proc
def test_proc_stat_parses_a_command_name_with_spaces_and_parentheses():
    fields = ["S", "17", "42", "42"] + ["0"] * 15 + ["987654", "0"]
    facts = runs.parse_proc_stat("1234 (a) (b c)) " + " ".join(fields))
    assert facts == runs.ProcFacts("S", 17, 42, 987654)


def test_proc_facts_of_this_process_and_of_none():
    facts = runs.proc_facts(os.getpid())
    assert facts is not None and facts.ppid == os.getppid() and facts.pgrp == os.getpgrp()
    assert runs.proc_facts(None) is None


def test_a_finished_process_has_no_facts_and_a_record_of_it_shows_dead():
    proc = subprocess.Popen(["true"])
    facts = runs.proc_facts(proc.pid)
    proc.wait()
    assert runs.proc_facts(proc.pid) is None
    record = {"state": "running", "pid": proc.pid, "host": "h",
              "proc_start": facts.start if facts else None}
    assert runs.effective_state(record, runs.proc_facts(proc.pid), "h", None) == "dead"


# --------------------------------------------------------------------------- states
LIVE = runs.ProcFacts("S", 1, 100, 5000)
RUNNING = {"state": "running", "pid": 100, "proc_start": 5000, "host": "gpu1", "boot_id": "b1"}


@pytest.mark.parametrize("facts, host, boot, expected", [
    (LIVE, "gpu1", "b1", "running"),
    (None, "gpu1", "b1", "dead"),                       # the process is gone
    (LIVE._replace(state="Z"), "gpu1", "b1", "dead"),   # killed, not yet reaped
    (LIVE._replace(start=9999), "gpu1", "b1", "dead"),  # the pid now names another process
    (LIVE, "gpu1", "b2", "dead"),                       # the machine rebooted since
    (None, "laptop", "b9", "running"),                  # another host's run: cannot tell
])
def test_a_running_record_is_believed_only_while_its_process_lives(facts, host, boot,
                                                                    expected):
    assert runs.effective_state(RUNNING, facts, host, boot) == expected


@pytest.mark.parametrize("state", ["succeeded", "failed", "stopped", "skipped"])
def test_an_ended_record_keeps_its_state(state):
    assert runs.effective_state({**RUNNING, "state": state}, None, "gpu1", "b1") == state


def test_a_record_without_a_state_or_pid_is_dead():
    assert runs.effective_state({}, None, "h", None) == "dead"
    assert runs.effective_state({"state": "running", "pid": None}, None, "h", None) == "dead"


# --------------------------------------------------------------------------- durations
def test_duration_of_ended_running_and_dead_runs():
    start = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
    rec = {"started": start.isoformat(), "ended": (start + timedelta(seconds=65)).isoformat()}
    assert runs.duration_seconds(rec, "succeeded", start) == 65
    running = {"started": start.isoformat(), "ended": None}
    assert runs.duration_seconds(running, "running", start + timedelta(seconds=3)) == 3
    assert runs.duration_seconds(running, "dead", start + timedelta(seconds=3)) is None
    assert runs.duration_seconds({"started": "garbage"}, "running", start) is None
    assert runs.duration_seconds({}, "running", start) is None


@pytest.mark.parametrize("seconds, text", [
    (None, "-"), (0.04, "0.0s"), (4.25, "4.2s"), (12.9, "12s"), (65, "1m05s"),
    (3599, "59m59s"), (7620, "2h07m"),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds, text", [
    (None, "?"), (0.04, "0.0 s"), (12.34, "12.3 s"), (61, "1 min 01 s"), (3725, "1 h 02 min"),
])
def test_format_duration_in_words_for_messages(seconds, text):
    assert format_duration(seconds, words=True) == text


def test_format_start_is_local_time_to_the_second():
    iso = "2026-11-24T10:15:00.250+00:00"
    expected = datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert format_start(iso) == expected
    assert format_start(None) == "-" and format_start("x") == "-"


def test_runs_table_aligns_columns_and_shows_unknowns_as_dashes():
    records = [
        {"id": "train-20261124-101500-3f2a", "recipe": "train", "state": "running",
         "started": "2026-11-24T10:15:00+00:00", "duration": 3.0, "exit_code": None},
        {"id": "m-20261123-030000-0000", "recipe": "m", "state": "failed",
         "started": "2026-11-23T03:00:00+00:00", "duration": 125.0, "exit_code": 1},
    ]
    lines = render_runs(records).splitlines()
    assert lines[0].split() == ["ID", "RECIPE", "STATE", "STARTED", "DURATION", "EXIT"]
    assert lines[1].split()[:3] == ["train-20261124-101500-3f2a", "train", "running"]
    assert lines[1].split()[-2:] == ["3.0s", "-"]
    assert lines[2].split()[-2:] == ["2m05s", "1"]
    # columns line up: every row's state starts where the header's does
    col = lines[0].index("STATE")
    assert lines[1][col:].startswith("running") and lines[2][col:].startswith("failed")
    assert all(line == line.rstrip() for line in lines)


# --------------------------------------------------------------------------- run.json
def test_record_updates_merge_and_replace_the_file_whole(tmp_path):
    runs.update_record(str(tmp_path), lambda r: r.update(state="running", pid=1))
    runs.update_record(str(tmp_path), lambda r: r.update(state="succeeded", exit_code=0))
    assert runs.read_record(str(tmp_path)) == {"state": "succeeded", "pid": 1, "exit_code": 0}
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    (tmp_path / "run.json").write_text("{half")
    assert runs.read_record(str(tmp_path)) is None


def _fake_repo(tmp_path):
    return SimpleNamespace(state_dir=str(tmp_path / "state"), root=str(tmp_path))


def test_runs_are_listed_newest_first_with_their_state_computed(tmp_path):
    repo = _fake_repo(tmp_path)
    for run_id, started, state in [("a-1", "2026-11-24T10:00:00+00:00", "succeeded"),
                                   ("a-2", "2026-11-24T11:59:00+02:00", "running"),
                                   ("b-1", "2026-11-24T10:30:00+00:00", "failed")]:
        path = tmp_path / "state" / "runs" / run_id
        path.mkdir(parents=True)
        fields = {"id": run_id, "recipe": run_id[0], "started": started, "state": state,
                  "pid": None}
        runs.update_record(str(path), lambda r, f=fields: r.update(f))
    (tmp_path / "state" / "runs" / "cron.log").write_text("")
    listed = runs.list_runs(repo)
    # 11:59+02:00 is 09:59 UTC, the oldest: ordered by time, not by the text
    assert [r["id"] for r in listed] == ["b-1", "a-1", "a-2"]
    assert listed[2]["state"] == "dead"  # 'running' without a live process
    assert runs.find_run(repo, None)["id"] == "b-1"
    assert runs.find_run(repo, "a")["id"] == "a-1"  # a recipe: its newest run
    with pytest.raises(runs.RecipeError, match="no run 'zzz'"):
        runs.find_run(repo, "zzz")


def test_recipe_lock_admits_one_holder_and_frees_on_release(tmp_path):
    repo = _fake_repo(tmp_path)
    first, second = RecipeLock(repo, "train"), RecipeLock(repo, "train")
    assert first.try_acquire()
    assert not os.get_inheritable(first.fd)  # stage commands do not carry it away
    first.note("train-20261124-101500-3f2a", 4242)
    assert not second.try_acquire()
    assert second.holder() == ("train-20261124-101500-3f2a", 4242)
    assert RecipeLock(repo, "other").try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


# --------------------------------------------------------------------------- cron lines
ROOT = "/srv/team project"
PY = "/opt/venv/bin/python"
RUNS = f"{ROOT}/.dvc/tmp/lode/runs"


def test_cron_line_starts_the_detached_runner_from_the_root_with_this_python():
    line = cron_line("0 3 * * *", ROOT, PY, "compute_metrics", RUNS)
    assert line.startswith("0 3 * * * cd ")
    command, _, tag = line[len("0 3 * * * "):].rpartition(" # ")
    assert tag == f"lode-schedule:{ROOT}:compute_metrics"
    words = shlex.split(command)
    assert words[:2] == ["cd", ROOT]
    assert "PATH=/opt/venv/bin:$PATH" in words
    i = words.index(PY)
    assert words[i:i + 8] == [PY, "-m", "lode", "run", "--detach", "--scheduled",
                              "compute_metrics", ">>"]
    assert words[i + 8] == f"{RUNS}/cron.log" and words[-1] == "2>&1"


def test_cron_percent_signs_are_escaped_and_newlines_refused():
    line = cron_line("@daily", "/srv/100%", PY, "r", "/srv/100%/runs")
    assert "%" not in line.replace("\\%", "")
    assert cron_command("/srv/100%", PY, "r", "/srv/100%/runs") in line.replace("\\%", "%")
    with pytest.raises(ScheduleError):
        cron_line("@daily", "/srv/a\nb", PY, "r", "/x")


@pytest.mark.parametrize("expr, when", [
    ("0 3 * * *", "0 3 * * *"), ("  0   3 * * 1-5 ", "0 3 * * 1-5"), ("*/15 * * * *",
                                                                     "*/15 * * * *"),
    ("@daily", "@daily"),
])
def test_valid_cron_expressions(expr, when):
    assert normalize_when(expr) == when


@pytest.mark.parametrize("expr", ["", "0 3 * *", "0 3 * * * *", "61 3 * * *", "daily",
                                  "@sometimes", "0 3 * * * echo"])
def test_invalid_cron_expressions_are_one_sentence(expr):
    with pytest.raises(ScheduleError, match=r"is not a cron expression; give five fields"):
        normalize_when(expr)


FOREIGN = (
    "# their comment\n"
    'MAILTO=""\n'
    "0  0 1 1 *\t/usr/bin/backup   --all  # theirs\n"
    "*/5 * * * * echo '50%' > /dev/null\n"
)


def test_replacing_an_entry_keeps_every_other_line_byte_for_byte():
    ours = cron_line("0 3 * * *", ROOT, PY, "m", RUNS)
    once = replace_entry(FOREIGN, ours, ROOT, "m")
    assert once == FOREIGN + ours + "\n"
    later = cron_line("30 4 * * *", ROOT, PY, "m", RUNS)
    twice = replace_entry(once, later, ROOT, "m")
    assert twice == FOREIGN + later + "\n"  # replaced, not duplicated
    other = cron_line("0 5 * * *", ROOT, PY, "other", RUNS)
    both = replace_entry(twice, other, ROOT, "other")
    assert remove_entry(both, ROOT, "m") == (FOREIGN + other + "\n", 1)
    assert remove_entry(FOREIGN, ROOT, "m") == (FOREIGN, 0)


def test_a_crontab_without_a_final_newline_gets_one_before_our_line():
    ours = cron_line("0 3 * * *", ROOT, PY, "m", RUNS)
    assert replace_entry("@reboot /bin/true", ours, ROOT, "m") == f"@reboot /bin/true\n{ours}\n"
    assert replace_entry("", ours, ROOT, "m") == ours + "\n"


def test_project_entries_are_this_projects_live_lines_only():
    mine = cron_line("0 3 * * *", ROOT, PY, "m", RUNS)
    daily = cron_line("@daily", ROOT, PY, "d", RUNS)
    elsewhere = cron_line("0 3 * * *", ROOT + "-2", PY, "m", RUNS)
    nested = cron_line("0 3 * * *", ROOT + ":x", PY, "m", RUNS)
    text = FOREIGN + "\n".join([mine, "# " + daily, elsewhere, nested, daily]) + "\n"
    entries = project_entries(text, ROOT)
    assert [(e.recipe, e.when) for e in entries] == [("m", "0 3 * * *"), ("d", "@daily")]
    assert entries[0].line == mine
    # a line the user commented out is theirs: not removed either
    assert ("# " + daily) in remove_entry(text, ROOT, "d")[0]


def test_run_ids_match_the_documented_shape():
    run_id = runs.make_run_id("quick", datetime.now(), os.urandom(2).hex())
    assert re.fullmatch(r"quick-\d{8}-\d{6}-[0-9a-f]{4}", run_id)
