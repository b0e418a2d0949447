"""wyhash v4 of 8-byte keys against values computed with the reference C implementation
(wyhash.h "final version 4" as vendored in Intel's memrec_encoder, default secret, len 8,
compiled with gcc 12.2 -O2 on x86-64, 2026-12-01)."""

from __future__ import annotations

import numpy as np
import pytest

from traces.wyhash import FEATURE_SALT, SEEDS, extra_hash_count, wyhash64_key, wyhash64_key_py

# (seed, feature, token, wyhash(&key, 8, seed, _wyp)) with key = feature * 430000000 + token
REFERENCE = [
    (7186053, 0, 0, 0x5D0C1BFA803B80B0),
    (7186053, 3, 1234567, 0x2A9083AA3331B1E0),
    (7186053, 25, 39999999, 0xECB62D30703C9696),
    (7186053, 7, 0, 0x50AE4538E7F6403A),
    (7186053, 12, 65535, 0x8C2FB73A79AD74BE),
    (7186053, 25, 1 << 40, 0x7918A8D419E895E2),
    (6387688, 0, 0, 0x5C78C1B16590DFEC),
    (6387688, 3, 1234567, 0x38DFCD61A0B77927),
    (6387688, 25, 39999999, 0x82DE1FBE2851E3E0),
    (6387688, 12, 65535, 0xA693AB1BC1419719),
]


@pytest.mark.parametrize("seed, feature, token, expected", REFERENCE)
def test_matches_the_reference_c_implementation(seed, feature, token, expected):
    key = feature * FEATURE_SALT + token
    assert wyhash64_key_py(key, seed) == expected
    assert int(wyhash64_key(np.uint64(key), np.uint64(seed))) == expected


def test_released_seed_list_starts_with_the_first_hash_seed():
    assert SEEDS[:2] == (7186053, 6387688) and len(SEEDS) == 20


@pytest.mark.parametrize("k_token, k_weight, calls", [(1, 1, 0), (1, 4, 2), (2, 1, 1), (3, 2, 2), (9, 1, 4)])
def test_extra_hash_calls(k_token, k_weight, calls):
    # each extra call yields two 32-bit indices; the first call covers one token and one weight index
    assert extra_hash_count(k_token, k_weight) == calls
