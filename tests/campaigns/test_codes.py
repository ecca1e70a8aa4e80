"""Coupon codes: unguessable, with a check symbol that catches typing mistakes (D7)."""

from __future__ import annotations

import itertools

from campaigns import codes


def test_a_new_code_is_sixteen_symbols_and_passes_its_own_check():
    seen = {codes.code_new() for _ in range(2000)}
    assert len(seen) == 2000
    for code in itertools.islice(seen, 200):
        assert len(code) == codes.CODE_LENGTH
        assert codes.code_is_well_formed(code)


def test_every_single_symbol_typo_is_caught():
    code = codes.code_new()
    for i, wrong in itertools.product(range(len(code)), codes.ALPHABET):
        if wrong != code[i]:
            assert not codes.code_is_well_formed(code[:i] + wrong + code[i + 1 :])


def test_most_swapped_neighbours_are_caught():
    caught = total = 0
    for _ in range(300):
        code = codes.code_new()
        for i in range(len(code) - 1):
            if code[i] != code[i + 1]:
                total += 1
                swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
                caught += not codes.code_is_well_formed(swapped)
    assert caught / total > 0.95


def test_a_code_typed_at_a_till_is_read_the_way_it_was_meant():
    code = codes.code_new()
    typed = codes.code_display(code).lower().replace("1", "l").replace("0", "o")
    assert codes.code_normalize(typed) == code
    assert codes.code_normalize(None) == ""
    assert codes.code_normalize("x" * 100) == ""
