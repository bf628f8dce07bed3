"""The soak's checker fails on bad data: overlapping executions, an illegal continue, an unexplained failure, a
gap or a loss in an event stream. And it passes the legitimate shapes (a killed worker's open record, the
continue rule, a retry, an interrupted step that cannot continue)."""

from datetime import UTC, datetime, timedelta

from upgrades.management.soak.checks import (
    INTERRUPTED_LINE,
    Death,
    Execution,
    FailedSubTask,
    Received,
    execution_overlaps,
    illegal_continues,
    payload_digest,
    stream_problems,
    unexplained_failure,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
_ids = iter(range(1, 10_000))


def at(seconds):
    return T0 + timedelta(seconds=seconds)


def run(start, end, *, sub_task=7, attempt=1, phase="run", pid=100, outcome=None, owner="w1"):
    return Execution(
        id=next(_ids),
        sub_task_id=sub_task,
        dag_id=1,
        attempt=attempt,
        phase=phase,
        host="h",
        pid=pid,
        started_at=at(start),
        ended_at=None if end is None else at(end),
        outcome=("ok" if end is not None else "") if outcome is None else outcome,
        owner=owner,
    )


def kinds(violations):
    return [v.kind for v in violations]


# Overlaps.


def test_sequential_executions_of_a_sub_task_pass():
    assert execution_overlaps([run(0, 1), run(1, 2, attempt=2), run(5, 6, sub_task=8)], []) == []


def test_two_executions_of_one_sub_task_at_the_same_time_are_an_overlap():
    violations = execution_overlaps([run(0, 3, pid=100), run(2, 4, pid=200)], [])
    assert kinds(violations) == ["overlap"]
    assert "sub-task 7" in str(violations[0]) and "h:200" in str(violations[0])


def test_an_execution_inside_a_long_one_is_an_overlap_even_after_a_short_one():
    # Sorted by start: the long one, a short one inside it, then another inside the long one's span.
    assert kinds(execution_overlaps([run(0, 10), run(11, 12), run(1, 2, pid=2), run(3, 4, pid=3)], [])) == [
        "overlap",
        "overlap",
    ]


def test_a_killed_process_ends_its_open_execution_when_it_was_killed():
    killed = [Death("h", 100, at(2))]
    assert execution_overlaps([run(0, None, pid=100), run(3, 4, pid=200)], killed) == []
    assert kinds(execution_overlaps([run(0, None, pid=100), run(1, 4, pid=200)], killed)) == ["overlap"]


def test_an_open_execution_of_a_process_that_was_not_killed_is_a_violation():
    violations = execution_overlaps([run(0, None, pid=100), run(3, 4, pid=200)], [Death("h", 999, at(1))])
    assert kinds(violations) == ["open-execution", "overlap"]


def test_a_kill_before_the_execution_started_does_not_end_it():
    assert kinds(execution_overlaps([run(5, None, pid=100)], [Death("h", 100, at(1))])) == ["open-execution"]


# Continues.


def test_a_continuable_sub_task_may_run_an_attempt_again():
    records = [run(0, None, pid=100), run(3, 4, pid=200)]
    assert illegal_continues(records, {7: True}) == []


def test_a_retry_is_a_new_attempt_and_a_rollback_is_its_own_phase():
    records = [run(0, 1, outcome="failed"), run(2, 3, attempt=2, phase="rollback"), run(3, 4, attempt=2)]
    assert illegal_continues(records, {7: False}) == []


def test_a_second_execution_of_an_attempt_that_cannot_continue_is_illegal():
    violations = illegal_continues([run(0, None, pid=100), run(3, 4, pid=200)], {7: False})
    assert kinds(violations) == ["illegal-continue"]
    assert "ran 2 times" in str(violations[0]) and "interrupted" in str(violations[0])
    # Even when the first had ended: it must not be run again without an operator's retry.
    assert kinds(illegal_continues([run(0, 1), run(3, 4)], {7: False})) == ["illegal-continue"]


def test_the_engines_rerun_after_a_database_error_is_not_a_continue():
    stopped = run(0, 1, outcome="OperationalError")
    assert illegal_continues([stopped, run(2, 3)], {7: False}) == []
    # Another worker thread, or a first execution that ended otherwise, makes it a continue again.
    assert kinds(illegal_continues([stopped, run(2, 3, owner="w2")], {7: False})) == ["illegal-continue"]
    assert kinds(illegal_continues([run(0, 1, outcome="LeaseLost"), run(2, 3)], {7: False})) == ["illegal-continue"]
    assert kinds(illegal_continues([stopped, run(2, 3), run(4, 5)], {7: False})) == ["illegal-continue"]


# Failures.


def failed(*, line=INTERRUPTED_LINE, can_continue=False, attempt=1):
    return FailedSubTask(
        id=7,
        dag_id=1,
        name="Execute upgrade pre script",
        can_continue=can_continue,
        attempt=attempt,
        start_time=at(0),
        end_time=at(10),
        last_line=line,
    )


def test_an_interrupted_step_that_cannot_continue_whose_worker_was_killed_is_explained():
    assert unexplained_failure([failed()], [run(0, None, pid=100)], [Death("h", 100, at(1))]) == []
    # Killed after the step's body returned, before the engine recorded its end: still its executor dying.
    assert unexplained_failure([failed()], [run(0, 1, pid=100)], [Death("h", 100, at(2))]) == []
    # Killed between the claim and the record: no execution, but a worker died while it was claimed.
    assert unexplained_failure([failed()], [], [Death("h", 5, at(3))]) == []


def test_an_interrupt_without_a_dead_worker_is_unexplained():
    assert kinds(unexplained_failure([failed()], [run(0, None, pid=100)], [])) == ["unexplained-failure"]
    # A kill of that process before the execution, or after the sub-task had failed, explains nothing.
    assert kinds(unexplained_failure([failed()], [run(2, 3, pid=100)], [Death("h", 100, at(1))])) == [
        "unexplained-failure"
    ]
    assert kinds(unexplained_failure([failed()], [run(0, 1, pid=100)], [Death("h", 100, at(11))])) == [
        "unexplained-failure"
    ]
    assert kinds(unexplained_failure([failed()], [], [Death("h", 5, at(11))])) == ["unexplained-failure"]


def test_other_failures_and_interrupted_continuable_steps_are_unexplained():
    line = "[Common.Unexpected]: the connection is closed"
    assert "the connection is closed" in str(unexplained_failure([failed(line=line)], [run(0, 1)], [])[0])
    killed = [Death("h", 100, at(1))]
    assert kinds(unexplained_failure([failed(can_continue=True)], [run(0, None)], killed)) == ["unexplained-failure"]
    assert kinds(unexplained_failure([], [], [])) == ["unexplained-failure"]


# Event streams.


def database(n):
    return [(seq, payload_digest("subtask.updated", {"n": seq})) for seq in range(1, n + 1)]


def test_a_complete_stream_passes_and_digests_match_across_json_text_and_objects():
    rows = database(5)
    assert stream_problems(1, 5, rows, Received(1, events=list(rows))) == []
    assert payload_digest("k", '{"b": 1, "a": [1, 2]}') == payload_digest("k", {"a": [1, 2], "b": 1})


def test_a_duplicate_with_the_same_content_is_harmless():
    rows = database(3)
    assert stream_problems(1, 3, rows, Received(1, events=[rows[0], rows[1], rows[1], rows[2]])) == []


def test_a_gap_in_the_database_stream_is_a_violation():
    rows = [r for r in database(5) if r[0] != 3]
    assert "db-gap" in kinds(stream_problems(1, 5, rows, Received(1, events=list(rows))))


def test_a_watcher_that_missed_events_or_got_them_out_of_order_fails():
    rows = database(6)
    missed = stream_problems(1, 6, rows, Received(1, events=rows[:2] + rows[4:]))
    assert kinds(missed) == ["gap", "missed"] and "seqs 3-4" in str(missed[1])
    late = stream_problems(1, 6, rows, Received(1, events=[rows[0], rows[2], rows[1], *rows[3:]]))
    assert [str(v) for v in late] == [
        "[gap] dag 1: seq 3 arrived after seq 1",
        "[gap] dag 1: seq 2 arrived after seq 3",
    ]


def test_a_different_payload_or_an_unknown_seq_fails():
    rows = database(3)
    wrong = [rows[0], (2, payload_digest("subtask.updated", {"n": 99})), rows[2]]
    assert kinds(stream_problems(1, 3, rows, Received(1, events=wrong))) == ["mismatch"]
    extra = [*rows, (4, "x")]
    assert kinds(stream_problems(1, 3, rows, Received(1, events=extra))) == ["phantom"]


def test_what_the_watcher_reported_is_a_violation():
    rows = database(2)
    received = Received(1, events=list(rows), problems=["a snapshot replaced events 1-2"])
    assert kinds(stream_problems(1, 2, rows, received)) == ["watcher"]
