"""feeds: publish a folder of Markdown articles as Atom, RSS and JSON Feed.

Public names are re-exported here; modules and names starting with "_" are private.
"""

from ._version import __version__

__all__ = ["create_app", "__version__"]


def create_app(config=None):
    """The Flask application (`flask --app feeds run` finds it here)."""
    from .server import create_app as factory
    return factory(config)
