"""CLAP-PT's pre-trained audio tower as the starting point of other encoders' HTS-AT.

LARP (``audio_init="clap-pt"``, its default) and ``htsat-audio`` (``init="clap-pt"``)
start their HTS-AT from the audio branch of ``clap-pt`` pre-trained in-repo on the same
dataset's **pre-training pool** with the same seed, at the CLAP-PT settings of the named
profile. The CLAP-PT run is the one ``clap-pt`` / ``clap-ft`` use (trained once, cached
under ``benchmark.core.cache.shared_dir("clap-pt", key)``), so the three encoders start
from identical weights. The HTS-AT configuration must be the profile's shared one
(:data:`encoders._htsat.HTSAT_BY_PROFILE`); a mismatch is an error, never a partial load.

This is a plugin-level helper: it goes through ``encoders.clap_pt``'s own public encoder
class, not through the harness.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from benchmark.core.dataset import Dataset

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["AUDIO_INITS", "clap_pt_audio_id", "clap_pt_audio_state"]

AUDIO_INITS = ("clap-pt", "random")


def _clap_pt(profile: str, htsat: Any) -> Any:
    from encoders._htsat import get_htsat_config
    from encoders.clap_pt import ClapPTEncoder

    enc = ClapPTEncoder.from_profile(profile)
    want = get_htsat_config(htsat).to_dict()
    if enc.htsat_config.to_dict() != want:
        raise ValueError(f"CLAP-PT's {profile!r} HTS-AT ({enc.htsat_config.name}) is not the tower to initialise "
                         f"({want.get('name')}); use the profile's shared HTS-AT (encoders._htsat.HTSAT_BY_PROFILE)")
    return enc


def clap_pt_audio_id(dataset: Dataset, seed: int, profile: str, htsat: Any) -> str:
    """A short identity of the CLAP-PT run (settings, dataset content, seed) for cache keys."""
    key = _clap_pt(profile, htsat).pretrain_key(dataset, int(seed))
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"clap-pt:{profile}:{digest}"


def clap_pt_audio_state(dataset: Dataset, seed: int, profile: str,
                        htsat: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train (or load the cached) CLAP-PT of ``profile`` on ``dataset``'s pre-training pool
    with ``seed``; returns its HTS-AT state dict (keys of :func:`encoders._htsat.build_htsat`'s
    model) and a small report."""
    enc = _clap_pt(profile, htsat)
    model, info = enc._pretrained(dataset, int(seed))
    state = {k[len("audio_branch."):]: v.detach().to("cpu", copy=True)
             for k, v in model.state_dict().items() if k.startswith("audio_branch.")}
    if not state:
        raise RuntimeError("CLAP-PT model has no audio_branch weights")
    report = {"audio_init": "clap-pt", "clap_pt_profile": profile, "tensors": len(state),
              "clap_pt_id": clap_pt_audio_id(dataset, seed, profile, htsat),
              **{k: info[k] for k in ("weights", "path") if k in info}}
    return state, report
