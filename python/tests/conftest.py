"""pytest: use the source tree's flash_mla_ts when no installed copy is importable."""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("flash_mla_ts") is None:
    sys.path.append(str(Path(__file__).resolve().parent.parent))
