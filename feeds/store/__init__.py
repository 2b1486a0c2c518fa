"""The document store: the site's documents as the builder last made them,
with the ETag and Last-Modified of each, for servers that only send bytes.

A folder on this host by default; Redis (`cache_url = "redis://…"`) when
servers on several hosts must send the same bytes and validators.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from ._folder import FolderStore
from ._redis import RedisStore
from ._parts import Parts
from ._types import PART_FORMAT, Entry, Manifest, encode_part, part_path

__all__ = ["Entry", "Manifest", "Parts", "PART_FORMAT", "FolderStore", "RedisStore", "encode_part", "open_store",
           "part_path", "store_key"]


def store_key(config) -> str:
    """Names the store of one content folder published with one set of settings."""
    identity = f"{Path(config.content).resolve()}\0{config.site.fingerprint()}"
    return hashlib.blake2b(identity.encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()


def open_store(config):
    """The store `config` names: Redis if cache_url is set, else a folder."""
    if config.cache_url:
        # Hosts may mount the content elsewhere: the namespace is the settings, not the path.
        return RedisStore(config.cache_url, config.site.fingerprint())
    return FolderStore(store_dir(config))


def store_dir(config) -> Path:
    if config.store_dir is not None:
        return Path(config.store_dir)
    from ..config import default_cache_dir
    return (config.cache_dir or default_cache_dir()) / f"store-{store_key(config)}"
