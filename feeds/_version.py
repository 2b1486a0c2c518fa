"""The release: part of every fingerprint, so output made by another release is made again."""

__version__ = "0.5.0"
