"""Content codings: each document is compressed once per version by the
builder (brotli and gzip), and each request gets the best coding it accepts.

Compressed bytes are deterministic (gzip with no name and a zero mtime), so
the same document gives the same files and ETags on every build and host.
"""
from __future__ import annotations

import gzip
from functools import lru_cache

# Preference when a client accepts several equally: smallest first.
ENCODINGS = ("br", "gzip")
SUFFIXES = {"br": ".br", "gzip": ".gz"}  # of the precompressed files beside an export's documents
IDENTITY = "identity"
# Brotli 5 and gzip 6 compress a feed to 0.15-0.16 of its size at 60-70 MB/s;
# brotli 11 gains another tenth at 1 MB/s, far too slow for a cold build.
BROTLI_QUALITY = 5
GZIP_LEVEL = 6


def compress(body: bytes) -> dict[str, bytes]:
    """Every coding of body: encoding -> bytes."""
    import brotli

    return {"br": brotli.compress(body, quality=BROTLI_QUALITY),
            "gzip": gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)}


def settings() -> str:
    """What the compressed bytes depend on, for the writers' version checks."""
    return f"br{BROTLI_QUALITY},gzip{GZIP_LEVEL}"


@lru_cache(maxsize=512)  # clients send few distinct headers, and this runs on every request
def choose(accept_encoding: str | None, available: tuple[str, ...] = ENCODINGS) -> str:
    """The coding to send for an Accept-Encoding header (RFC 9110 §12.5.3):
    the highest weight among those available, ties going to the smaller,
    identity when nothing else is acceptable (no header: identity)."""
    if not accept_encoding:
        return IDENTITY
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, _, params = item.partition(";")
        name = name.strip().lower()
        if not name:
            continue
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    weight = 0.0
        weights[name] = max(weight, weights.get(name, 0.0)) if name in weights else weight
    if "x-gzip" in weights and "gzip" not in weights:
        weights["gzip"] = weights["x-gzip"]
    star = weights.get("*")
    best, best_weight = IDENTITY, 0.0
    for name in available:
        weight = weights.get(name, star if star is not None else 0.0)
        if weight > best_weight:
            best, best_weight = name, weight
    # A coding the client accepts beats identity unless identity is weighed
    # higher; a tie goes to the smaller body. Nothing acceptable: identity.
    identity = weights.get(IDENTITY, star if star is not None else 0.0)
    return best if best_weight > 0 and best_weight >= identity else IDENTITY
