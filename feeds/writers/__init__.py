"""Every file and store entry `feeds` writes goes through a Writer.

Two writers take the builder's documents: ExportWriter fills a folder for
any static web server (real paths, incremental, every file replaced
atomically), StoreWriter fills the document store the servers read (bodies
by ETag, then one commit that makes the new version current). Both are told
every document the site has (path -> version) and get the bytes of those
they do not already hold.
"""
from __future__ import annotations

from ..files import atomic_write, make_dir
from ._export import MANIFEST, ExportWriter, remove_leftovers, safe_target, write_if_changed
from ._records import Placed, Rendered, WriteReport
from ._store import StoreWriter

__all__ = ["ExportWriter", "MANIFEST", "Placed", "Rendered", "StoreWriter", "WriteReport", "atomic_write", "make_dir",
           "remove_leftovers", "safe_target", "write_if_changed"]
