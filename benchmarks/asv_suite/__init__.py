"""asv suite of larpbench (docs/throughput.md). The workloads come from
``benchmark.harness.throughput`` (shared with the throughput study).

asv runs in the existing project environment, where larpbench may be installed from
another checkout: the checkout this suite belongs to goes first on ``sys.path``.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
for mod in [m for m in sys.modules if m.split(".")[0] in ("benchmark", "encoders", "recommenders")]:
    del sys.modules[mod]  # imported from elsewhere before the path was set
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
