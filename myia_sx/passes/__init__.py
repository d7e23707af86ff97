"""Compiler passes, one module each; :mod:`myia_sx.pipeline` lists them in order."""
