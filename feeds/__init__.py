"""feeds: publish a folder of Markdown articles as Atom, RSS and JSON Feed."""

__version__ = "0.2.0"


def create_app(config=None):
    """The Flask application (`flask --app feeds run` finds it here)."""
    from .web import create_app as factory
    return factory(config)
