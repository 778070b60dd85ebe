"""A faithful emulator of the Bintray REST API (API host) and its download host.

Build a :class:`BintrayEmulator` over an :class:`~transfer.sandbox.orgdata.Organization`
and serve ``api_app`` and ``download_app`` on two listeners; :class:`BintrayOptions` picks
between the behaviours the reference marks uncertain.
"""

from __future__ import annotations

from transfer.sandbox.bintray.app import BintrayEmulator
from transfer.sandbox.bintray.options import BintrayOptions

__all__ = ["BintrayEmulator", "BintrayOptions"]
