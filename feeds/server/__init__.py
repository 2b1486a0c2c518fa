"""The server: a thin WSGI app over the document store. It never reads an
article and never imports the builder; it may start one as a process."""
from .app import create_app, health, locate

__all__ = ["create_app", "health", "locate"]
