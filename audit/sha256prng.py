"""The SHA-256 PRNG and index sampling used by election risk-limiting audits,
re-implemented to reproduce Stark's ``cryptorandom`` (PyPI, version 0.4) bit
for bit, so that draws made with that package can be re-derived here.

The generator, as that package specifies it:

- state: SHA-256 over ``str(seed) + ","`` followed by ``counter`` zero bytes;
  each output is the digest of the current state, after which one more zero
  byte is appended (the counter advances);
- bits: digests are read as big-endian 256-bit integers and consumed from the
  least significant end; when more bits are needed than remain, the next
  digest is put *above* the remaining bits;
- integers below n: take ``(n-1).bit_length()`` bits, reject values ≥ n;
- ``sample_by_index(N, k)``: a population 1..N; for i = 0..k-1 draw w
  uniformly from 1..N-i, take item w, and move the last item into its place.

tests/test_draw.py compares this module with the package on many seeds.
"""

from __future__ import annotations

import hashlib

HASH_BITS = 256


class Sha256Prng:
    def __init__(self, seed: int | str) -> None:
        self.seed = seed
        self._state = hashlib.sha256(f"{seed},".encode())
        self.counter = 0
        self._bits = 0
        self._available = 0
        self._started = False

    def next_digest(self) -> int:
        value = int.from_bytes(self._state.digest(), "big")
        self._state.update(b"\x00")
        self.counter += 1
        return value

    def getrandbits(self, k: int) -> int:
        if not self._started:  # the first request always reads a digest, even for zero bits
            self._bits, self._available, self._started = self.next_digest(), HASH_BITS, True
        while k > self._available:
            self._bits |= self.next_digest() << self._available
            self._available += HASH_BITS
        value = self._bits & ((1 << k) - 1)
        self._bits >>= k
        self._available -= k
        return value

    def below(self, n: int) -> int:
        """Uniform integer in [0, n) by rejection sampling on (n-1).bit_length() bits."""
        k = (n - 1).bit_length()
        while True:
            r = self.getrandbits(k)
            if r < n:
                return r

    def randint(self, low: int, high: int) -> int:
        """Uniform integer in [low, high)."""
        return low + self.below(high - low)


def sample_by_index(n: int, k: int, prng: Sha256Prng) -> list[int]:
    """k distinct indices from 0..n-1, in draw order (cryptorandom's method)."""
    if k > n:
        raise ValueError(f"sample size {k} exceeds population {n}")
    population = list(range(n))
    chosen = []
    for i in range(k):
        w = prng.randint(1, n - i + 1)  # 1..n-i
        chosen.append(population[w - 1])
        last = population.pop()
        if w < n - i:
            population[w - 1] = last
    return chosen
