"""Pairwise squared distances in row blocks: the O(N^2) sums of the information estimators
(auditor.estimators.information, auditor.estimators.plane) without an N x N matrix in memory.

A block holds at most `BLOCK_ELEMENTS` float64 distances (512 KiB) whatever N, so the estimators' extra
memory is a few blocks at every sample size. Each block is the dense formula's rows,
||x_i||^2 + ||x_j||^2 - 2 x_i.x_j clamped at 0 with the diagonal exactly 0, so a sum over the blocks is
the dense sum up to rounding (the matrix product of a block may round its last bit differently).

The lower median of the N(N-1)/2 pair distances (the Gram bandwidth, the calibration's start) is
selected exactly, as torch.median of the pairs would give it, by a radix selection on the float64 bit
patterns (non-negative doubles order like their bits read as integers): each pass over the blocks
counts the next 16 bits of the answer among the pairs that share the bits found so far, and once few
enough pairs are left they are gathered and sorted. Usually two or three passes.
The estimators run these small block operations on one CPU thread (information._single_thread).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

BLOCK_ELEMENTS = 1 << 16
DIGIT_BITS = 16


class Pairwise:
    """Points x [N, d] (a float64 tensor) served as row blocks of their squared distances."""

    def __init__(self, x: torch.Tensor, block_elements: int | None = None) -> None:
        self.x = x
        self.n = int(x.shape[0])
        self.block_elements = max(1, int(BLOCK_ELEMENTS if block_elements is None else block_elements))
        self._sq = (x * x).sum(dim=1)
        self._median: float | None = None

    def rows(self, columns: int) -> int:
        """Rows per block against `columns` columns: as many as fit the element budget, at least one."""
        return max(1, self.block_elements // max(columns, 1))

    def blocks(self) -> Iterator[tuple[int, torch.Tensor]]:
        """(start, d2[start:stop, :]) for consecutive row blocks, a fresh tensor each (callers may work in
        place), the diagonal exactly 0 (the self term of every mixture)."""
        start, step = 0, self.rows(self.n)
        while start < self.n:
            stop = min(self.n, start + step)
            d2 = self._distances(start, stop, 0, self.n)
            d2.diagonal(offset=start).fill_(0.0)
            yield start, d2
            start = stop

    def _distances(self, start: int, stop: int, first: int, last: int) -> torch.Tensor:
        """d2[start:stop, first:last], rounded as the dense (||x_i||^2 + ||x_j||^2) - 2 x_i.x_j, clamped at 0."""
        product = (self.x[start:stop] @ self.x[first:last].T).mul_(-2.0)
        return product.add_(self._sq[start:stop, None] + self._sq[None, first:last]).clamp_(min=0.0)

    def dense(self) -> torch.Tensor:
        """The whole [N, N] matrix, for the estimators whose contract is a matrix (gaussian_gram)."""
        import torch

        return torch.cat([d2 for _, d2 in self.blocks()]) if self.n else self.x.new_zeros((0, 0))

    def median(self) -> float:
        """torch.median (the lower median) of d2[i, j] over the pairs i < j; where most pairs are duplicates
        (a median of 0) and some are not, the lower median of the positive pairs; 0.0 without pairs."""
        if self._median is None:
            self._median = self._lower_median()
        return self._median

    def _pair_bits(self) -> Iterator[torch.Tensor]:
        """The bit patterns (int64) of d2[i, j], i < j: per row block, the pairs within it (the triangle
        above the diagonal of its square) and those with every later row (a rectangle, taken whole)."""
        import torch

        start = 0
        while start < self.n:
            stop = min(self.n, start + self.rows(self.n - start))
            square = self._distances(start, stop, start, stop)
            above = torch.ones(square.shape, dtype=torch.bool, device=square.device).triu_(1)
            # a -0.0 reads as the most negative integer: as +0.0 it sorts first, with the other zeros
            yield square[above].view(torch.int64).clamp_(min=0)
            if stop < self.n:
                yield self._distances(start, stop, stop, self.n).view(-1).view(torch.int64).clamp_(min=0)
            start = stop

    def _lower_median(self) -> float:
        pairs = self.n * (self.n - 1) // 2
        if pairs == 0:
            return 0.0
        shift = 64 - DIGIT_BITS
        counts, zeros = self._histogram(shift, None)
        rank = (pairs - 1) // 2
        if zeros > rank:            # the median is 0: that of the positive pairs, unless there are none
            if zeros == pairs:
                return 0.0
            rank = zeros + (pairs - zeros - 1) // 2
        return self._select(rank, counts, shift)

    def _histogram(self, shift: int, prefix: int | None) -> tuple[np.ndarray, int]:
        """Counts of the DIGIT_BITS bits from `shift` up among the pairs whose higher bits are `prefix` (all
        pairs when None), and how many pairs are 0; summed on the device, read once per pass."""
        import torch

        counts = torch.zeros(1 << DIGIT_BITS, dtype=torch.int64, device=self.x.device)
        zeros = counts.new_zeros(())
        for bits in self._pair_bits():
            if prefix is None:
                zeros += (bits == 0).sum()
            else:
                bits = bits[(bits >> (shift + DIGIT_BITS)) == prefix]
            counts += torch.bincount((bits >> shift).bitwise_and_((1 << DIGIT_BITS) - 1), minlength=1 << DIGIT_BITS)
        return counts.cpu().numpy(), int(zeros)

    def _select(self, rank: int, counts: np.ndarray, shift: int) -> float:
        """The rank-th smallest pair (0-based), from the histogram of its top bits (the digit at `shift`)."""
        import torch

        prefix = 0
        while True:
            cumulative = np.cumsum(counts)
            digit = int(np.searchsorted(cumulative, rank, side="right"))
            rank -= int(cumulative[digit - 1]) if digit else 0
            prefix = (prefix << DIGIT_BITS) | digit
            if shift == 0:
                return _as_float(prefix)
            if int(counts[digit]) <= self.block_elements:     # few enough left: gather and sort them
                found = torch.cat([bits[(bits >> shift) == prefix] for bits in self._pair_bits()]).sort().values
                if not len(found):                            # cannot happen: the blocks are deterministic
                    return _as_float(prefix << shift)
                return _as_float(int(found[min(rank, len(found) - 1)]))
            shift -= DIGIT_BITS
            counts, _ = self._histogram(shift, prefix)


def _as_float(bits: int) -> float:
    return float(np.array([bits], dtype=np.int64).view(np.float64)[0])
