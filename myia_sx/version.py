"""The version of myia_sx (part of the import hook's cache key)."""

__version__ = "0.1.0"
