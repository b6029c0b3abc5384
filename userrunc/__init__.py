"""userrunc: a rootless-first OCI container runtime with a runc-compatible CLI."""

import os as _os

__version__ = "0.1.0"

# The runtime-spec version that userrunc implements and writes into state.
OCI_VERSION = "1.2.0"

# An installed copy has idmap/ and net/ inside this package (setuptools'
# package-dir puts them there). A source checkout, as used by an editable
# install in compat mode, has them beside it, so the checkout joins the
# package path.
_checkout = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not _os.path.isdir(_os.path.join(__path__[0], "idmap")) and _os.path.isfile(
    _os.path.join(_checkout, "idmap", "__init__.py")
):
    __path__.append(_checkout)
