"""Importers of real data sets into the canonical format (:mod:`benchmark.core.dataset`).

- :func:`import_mpd` — the Spotify Million Playlist Dataset slices + audio, with LARP's
  official split procedure;
- :func:`import_lastfm` — Last.fm (LFM-2b style) listening events + track metadata +
  audio, as user playlists (paper §4.1);
- :func:`import_larp_release` — the split files LARP released (pickles: read only with
  ``trust_pickle=True``).

Each module also declares its registry entry (:class:`~benchmark.data.base.DatasetImporter`:
``mpd``, ``lastfm``, ``larp-release``) with its command-line inputs and options, so
``larpbench data import NAME`` dispatches through ``benchmark.data.REGISTRY``.

Each validates its input (errors name the file and the line or record), lists tracks
whose audio is missing in ``import_report.json`` and on stdout, and returns the
:class:`~benchmark.core.dataset.Dataset` it wrote.
"""

from .common import REPORT_NAME, ImportFormatError, PickleRefusedError
from .larp_release import import_larp_release
from .lastfm import import_lastfm
from .mpd import import_mpd

__all__ = ["REPORT_NAME", "ImportFormatError", "PickleRefusedError", "import_larp_release", "import_lastfm",
           "import_mpd"]
