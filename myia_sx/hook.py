"""Importing this module installs the ``.sx`` import hook.

After ``import myia_sx.hook``, ``import model`` loads ``model.sx`` from
``sys.path`` (see :mod:`myia_sx.importer` and ``docs/import.md``).  Importing
it again, or calling ``myia_sx.install_import_hook()`` too, changes nothing.
"""

from .importer import install

install()
