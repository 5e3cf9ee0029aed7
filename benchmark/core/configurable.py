"""The config handling shared by encoders and recommenders."""

from __future__ import annotations

import copy
from typing import Any, ClassVar


class Configurable:
    """Defaults ⊕ ``profile_configs[profile]`` ⊕ user overrides; unknown keys are errors.

    Subclasses set ``kind`` (for messages), ``default_config``, ``profile_configs`` and a
    ``meta`` record with a ``name``.
    """

    kind: ClassVar[str] = "entry"
    meta: ClassVar[Any] = None
    default_config: ClassVar[dict[str, Any]] = {}
    profile_configs: ClassVar[dict[str, dict[str, Any]]] = {}
    #: Profiles whose default grid includes this entry; it can run in any profile by name.
    default_profiles: ClassVar[tuple[str, ...]] = ("ci", "quick", "paper")

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config: dict[str, Any] = copy.deepcopy(dict(self.default_config))
        self.config.update(copy.deepcopy(config or {}))
        unknown = sorted(set(self.config) - set(self.default_config))
        if unknown:
            raise ValueError(f"{self.kind} {self.name!r}: unknown config key(s) {unknown}; "
                             f"known: {sorted(self.default_config)}")

    @classmethod
    def from_profile(cls, profile: str, overrides: dict[str, Any] | None = None):
        cfg = copy.deepcopy(cls.profile_configs.get(profile, {}))
        cfg.update(overrides or {})
        return cls(cfg)

    @property
    def name(self) -> str:
        assert self.meta is not None
        return self.meta.name
