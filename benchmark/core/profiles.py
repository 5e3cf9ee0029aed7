"""Run profiles: how big the data is and which seeds/encoders/recommenders run by default.

- ``ci``: seconds to a few minutes on CPU; the committed regression baseline.
- ``quick``: the default on a fresh machine; minutes on 2 CPU cores.
- ``paper``: paper-scale data and hyper-parameters; needs a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    dataset_size: str
    datasets: tuple[str, ...]
    seeds: tuple[int, ...]
    description: str


PROFILES: dict[str, Profile] = {
    "ci": Profile("ci", "ci", ("synth-mpd", "synth-lfm"), (0,),
                  "tiny models on the ci-size generated data; committed regression baseline"),
    "quick": Profile("quick", "quick", ("synth-mpd", "synth-lfm"), (0,),
                     "reduced models on the quick-size generated data; fresh-machine default"),
    "paper": Profile("paper", "paper", ("synth-mpd", "synth-lfm"), (0,),
                     "paper hyper-parameters and MPD-scale data; GPU"),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}")
    return PROFILES[name]
