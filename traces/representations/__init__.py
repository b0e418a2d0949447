"""Embedding representations, registered by name: each computes pooled embeddings
with a Numba kernel and emits the exact line addresses that kernel reads."""

from __future__ import annotations

import dataclasses

from traces.representations.base import NoConfig, Representation
from traces.representations.dlrm import FullTable
from traces.representations.hashing import HashingConfig, HashingTrick
from traces.representations.memrec import MemRec, MemRecConfig
from traces.representations.qr import QRConfig, QuotientRemainder
from traces.representations.robe import RobeConfig, RobeZ
from traces.representations.ttrec import TTRec, TTRecConfig
from traces.workloads import Workload

REGISTRY: dict[str, tuple[type[Representation], type]] = {
    "dlrm": (FullTable, NoConfig),
    "hashing": (HashingTrick, HashingConfig),
    "qr": (QuotientRemainder, QRConfig),
    "robe": (RobeZ, RobeConfig),
    "ttrec": (TTRec, TTRecConfig),
    "memrec": (MemRec, MemRecConfig),
}


def config_fields(name: str) -> dict[str, object]:
    """Parameter names of a representation and their defaults."""
    _, config_cls = _lookup(name)
    return {f.name: f.default for f in dataclasses.fields(config_cls)}


def _lookup(name: str):
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown representation {name!r}; known: {', '.join(REGISTRY)}") from None


def build(name: str, workload: Workload, **params) -> Representation:
    """Build representation ``name`` for ``workload``; ``params`` set its config fields."""
    cls, config_cls = _lookup(name)
    known = config_fields(name)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(
            f"{name}: unknown parameter(s) {', '.join(unknown)}; known: {', '.join(known) or '(none)'}"
        )
    return cls(workload, config_cls(**params))


__all__ = ["REGISTRY", "build", "config_fields", "Representation"]
