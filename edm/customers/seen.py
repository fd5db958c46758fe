"""Which keys of a file were already met, and on which row: duplicate detection across chunks.

Keeping every key string of a 10-million-row file would cost about a gigabyte of
Python objects. Instead each key is kept as a 128-bit fingerprint (two independent
64-bit hashes from `pandas.util.hash_array`) next to the row it was first on:
24 bytes a key, in numpy arrays. Two different keys are taken for the same only if
both hashes collide, about n²/2¹²⁹ for n keys (never, in practice), so no string
needs to be kept to confirm a hit. Within one chunk keys are compared as strings.

The fingerprints are spread over 256 buckets by their first byte. Each bucket keeps
sorted runs, one per chunk, merged when a run is no larger than the one after it
(like a binary counter): at most log₂(chunks) runs to search, each fingerprint merged
O(log chunks) times, and a merge never copies more than a bucket's share of the keys.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

_KEYS = ("edm-import-key-1", "edm-import-key-2")  # hash_array wants 16 characters
_BUCKET_SHIFT = np.uint64(56)
_BUCKETS = 256


class SeenKeys:
    """The keys met so far in one file; feed it every chunk's keys in file order."""

    def __init__(self) -> None:
        self._buckets = [_Bucket() for _ in range(_BUCKETS)]

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self._buckets)

    def first_rows(self, keys: NDArray[np.object_], rows: NDArray[np.int64]) -> NDArray[np.int64]:
        """For each key, the earlier row it was first on (0 if this is its first), then remember them."""
        first = np.zeros(len(keys), dtype=np.int64)
        if not len(keys):
            return first
        codes, uniques = pd.factorize(keys)
        _, first_index = np.unique(codes, return_index=True)
        index_of_first = first_index[codes]
        repeated = index_of_first != np.arange(len(keys))
        first[repeated] = rows[index_of_first[repeated]]

        unique_keys = np.asarray(uniques, dtype=object)
        one = pd.util.hash_array(unique_keys, hash_key=_KEYS[0], categorize=False)  # already unique
        two = pd.util.hash_array(unique_keys, hash_key=_KEYS[1], categorize=False)
        found = np.zeros(len(unique_keys), dtype=np.int64)
        bucket = (one >> _BUCKET_SHIFT).astype(np.intp)
        order = np.argsort(bucket, kind="stable")
        bounds = np.searchsorted(bucket[order], np.arange(_BUCKETS + 1))
        for b in np.flatnonzero(np.diff(bounds)):
            at = order[bounds[b] : bounds[b + 1]]
            found[at] = self._buckets[b].find(one[at], two[at])
            new = at[found[at] == 0]
            self._buckets[b].add(_Run(one[new], two[new], rows[first_index[new]]))
        earlier = found[codes]
        first[earlier > 0] = earlier[earlier > 0]
        return first


@dataclass(frozen=True)
class _Run:
    first: NDArray[np.uint64]  # sorted, once added
    second: NDArray[np.uint64]
    rows: NDArray[np.int64]


class _Bucket:
    def __init__(self) -> None:
        self.runs: list[_Run] = []

    def __len__(self) -> int:
        return sum(len(run.rows) for run in self.runs)

    def find(self, one: NDArray[np.uint64], two: NDArray[np.uint64]) -> NDArray[np.int64]:
        found = np.zeros(len(one), dtype=np.int64)
        for run in self.runs:
            at = np.searchsorted(run.first, one)
            hits = np.flatnonzero(run.first[np.minimum(at, len(run.first) - 1)] == one)
            same = run.second[at[hits]] == two[hits]
            found[hits[same]] = run.rows[at[hits[same]]]
            for i in hits[~same]:  # first hashes equal, second not: look at the neighbours
                j = at[i] + 1
                while j < len(run.first) and run.first[j] == one[i]:
                    if run.second[j] == two[i]:
                        found[i] = run.rows[j]
                        break
                    j += 1
        return found

    def add(self, run: _Run) -> None:
        if not len(run.rows):
            return
        order = np.argsort(run.first, kind="stable")
        self.runs.append(_Run(run.first[order], run.second[order], run.rows[order]))
        while len(self.runs) > 1 and len(self.runs[-2].rows) <= len(self.runs[-1].rows):
            later = self.runs.pop()
            earlier = self.runs.pop()
            first = np.concatenate([earlier.first, later.first])
            order = np.argsort(first, kind="stable")  # timsort: a linear merge of two sorted runs
            self.runs.append(_Run(
                first[order],
                np.concatenate([earlier.second, later.second])[order],
                np.concatenate([earlier.rows, later.rows])[order],
            ))
