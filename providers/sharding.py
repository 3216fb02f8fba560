"""Shard maps shared by every target: which shard holds a key.

Exported as stack outputs so applications (and tests) route keys the same
way the deployment was built. Plain functions of the shard names, so the
ring is known at plan time and identical on docker and AWS.

- consistent_hash: each shard owns `virtual_nodes` points on a 32-bit ring;
  a point is the first 8 hex digits of md5(f"{shard}#{vnode}"); a key goes to
  the first point clockwise of md5(key)[:8]. Adding a shard moves ~1/N keys.
- range: shard i holds keys in [boundaries[i-1], boundaries[i]); without
  boundaries the 32-bit hash space is split evenly.
- directory: a lookup table kept by the application; the export seeds it with
  a hash-modulo assignment of the 256 key buckets (bucket = md5(key)[:2]).
"""

from __future__ import annotations

import bisect
import hashlib
from typing import Any

RING_BITS = 32


def _point(text: str) -> int:
    return int(hashlib.md5(text.encode()).hexdigest()[:8], 16)


def hash_ring(shards: list[str], virtual_nodes: int) -> list[tuple[int, str]]:
    """Sorted (point, shard) pairs; ties broken by shard name so it is deterministic."""
    return sorted((_point(f"{shard}#{v}"), shard) for shard in shards for v in range(virtual_nodes))


def shard_for(ring: list[tuple[int, str]], key: str) -> str:
    point = _point(key)
    index = bisect.bisect_left(ring, (point, ""))
    return ring[index % len(ring)][1]


def range_map(shards: list[str], boundaries: list[Any] | None) -> list[dict[str, Any]]:
    if boundaries is None:
        step = 2**RING_BITS // len(shards)
        boundaries = [step * i for i in range(1, len(shards))]
    lows = [None, *boundaries]
    highs = [*boundaries, None]
    return [{"shard": s, "from": lo, "to": hi} for s, lo, hi in zip(shards, lows, highs)]


def directory_map(shards: list[str]) -> dict[str, str]:
    return {f"{bucket:02x}": shards[bucket % len(shards)] for bucket in range(256)}


def shard_map(strategy: str, shards: list[str], virtual_nodes: int = 64,
              boundaries: list[Any] | None = None) -> dict[str, Any]:
    """The exported description of how keys map to `shards`."""
    if strategy == "consistent_hash":
        return {"strategy": strategy, "hash": "md5[:8]", "virtual_nodes": virtual_nodes,
                "ring": [[point, shard] for point, shard in hash_ring(shards, virtual_nodes)]}
    if strategy == "range":
        return {"strategy": strategy, "ranges": range_map(shards, boundaries)}
    if strategy == "directory":
        return {"strategy": strategy, "bucket": "md5[:2]", "directory": directory_map(shards)}
    raise ValueError(f"unknown sharding strategy {strategy!r}")
