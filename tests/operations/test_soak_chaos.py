"""The soak's fault choice: kinds come in shuffled rounds, so every kind asked for is injected within one round, and
a seed gives the same sequence again."""

import random

from upgrades.management.soak.chaos import KINDS, Chaos


def chaos(seed, kinds=KINDS):
    return Chaos(None, kinds=list(kinds), rng=random.Random(seed), mean_interval=1, postgres=None, redis=None)


def test_every_kind_comes_up_in_each_round_and_a_seed_repeats_the_sequence():
    picker = chaos(5)
    sequence = [picker._next_kind() for _ in range(4 * len(KINDS))]
    for start in range(0, len(sequence), len(KINDS)):
        assert sorted(sequence[start : start + len(KINDS)]) == sorted(KINDS)
    again = chaos(5)
    assert [again._next_kind() for _ in range(len(sequence))] == sequence
    assert len({tuple(sequence[i : i + len(KINDS)]) for i in range(0, len(sequence), len(KINDS))}) > 1


def test_only_the_kinds_asked_for_are_injected():
    picker = chaos(1, ["worker-kill", "pg-cut"])
    assert {picker._next_kind() for _ in range(10)} == {"worker-kill", "pg-cut"}
