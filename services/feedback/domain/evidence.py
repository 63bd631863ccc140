"""A dispute's evidence pack: entries hash-linked into one chain, and what each party may see.

Each entry's hash is SHA-256 over its canonical JSON (keys sorted, no spaces, UTF-8) followed by
the previous entry's hash as 64 hexadecimal characters; the first entry follows 64 zeros. Change
one byte of any entry, drop or reorder one, and every hash from there on no longer matches.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical(value: Any) -> bytes:
    """The one byte form of a JSON value: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(body: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 of the entry's canonical JSON followed by the previous hash."""
    return hashlib.sha256(canonical(body) + prev_hash.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One link of the chain: its body (what is hashed) and the hashes around it."""

    body: Mapping[str, Any]
    prev_hash: str
    hash: str

    @property
    def seq(self) -> int:
        """Its place in the chain, from 1."""
        return int(self.body["seq"])

    @property
    def about(self) -> frozenset[str]:
        """The members whose own target or credit the entry is about."""
        return frozenset(str(m) for m in self.body.get("about", []))


def append(
    chain: Sequence[Entry], items: Sequence[Mapping[str, Any]], *, source: str, recorded_at: str
) -> list[Entry]:
    """New entries for the items whose key the chain does not hold yet, linked after its head."""
    known = {e.body["key"] for e in chain}
    prev = chain[-1].hash if chain else GENESIS
    seq = chain[-1].seq if chain else 0
    added: list[Entry] = []
    for item in items:
        if item["key"] in known:
            continue
        known.add(item["key"])
        seq += 1
        body = {
            "seq": seq,
            "kind": item["kind"],
            "key": item["key"],
            "about": sorted(str(m) for m in item.get("about", [])),
            "source": source,
            "recorded_at": recorded_at,
            "data": item["data"],
        }
        entry = Entry(body=body, prev_hash=prev, hash=entry_hash(body, prev))
        added.append(entry)
        prev = entry.hash
    return added


def first_broken(chain: Sequence[Entry]) -> int | None:
    """The seq of the first entry whose link or hash does not hold (None: the chain holds)."""
    prev = GENESIS
    for position, entry in enumerate(chain, start=1):
        if (
            entry.seq != position
            or entry.prev_hash != prev
            or entry_hash(entry.body, prev) != entry.hash
        ):
            return position
        prev = entry.hash
    return None


def visible_to(entry: Entry, *, sees_all: bool, member_id: str | None) -> bool:
    """Managers and admins see every entry; a party sees those about their own items."""
    return sees_all or (member_id is not None and member_id in entry.about)
