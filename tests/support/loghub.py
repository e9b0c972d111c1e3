"""Where the shared Loghub samples are: beside the repository, or $LOGPILOT_LOGHUB_DATA."""

from __future__ import annotations

import os
from pathlib import Path

_CANDIDATES = [os.environ.get("LOGPILOT_LOGHUB_DATA"),
               Path(__file__).resolve().parents[3] / "shared" / "data" / "loghub_2k",
               "/work/shared/data/loghub_2k"]
LOGHUB = next((Path(c) for c in _CANDIDATES if c and (Path(c) / "formats.json").is_file()), Path("missing"))
