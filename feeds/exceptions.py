"""Every error `feeds` raises on purpose. Each I/O edge (configuration, the
export folder, the document store, the index) wraps what the system said in
one of these, with a message that names the file, folder or address."""
from __future__ import annotations


class FeedsError(Exception):
    """Base class: the message is meant for the person running `feeds`."""


class ConfigError(FeedsError):
    """Unusable configuration or arguments; the message says which and why."""


class ExportError(FeedsError):
    """The export folder cannot be written; the message names the path."""


class StoreError(FeedsError):
    """The document store cannot be read or written; the message names it."""


class ArticleIndexError(FeedsError):
    """The article index cannot be opened or written; the message names it."""


class NotLeader(FeedsError):
    """Another builder holds this store: this one must not write to it."""


class JobFailed(FeedsError):
    """A worker's job raised an error that cannot cross back to this process as
    itself (it cannot be unpickled): its type, text and traceback, as text."""


class WorkerLost(FeedsError):
    """A worker process died mid-job (killed, out of memory): the stage it served failed."""
