"""The config handling shared by encoders and recommenders."""

from __future__ import annotations

import copy
from typing import Any, ClassVar


class Configurable:
    """Defaults ⊕ ``profile_configs[profile]`` ⊕ user overrides; unknown keys are errors.

    Subclasses set ``kind`` (for messages), ``default_config``, ``profile_configs`` and a
    ``meta`` record with a ``name``. A bool option takes only true/false, a numeric option
    refuses strings and booleans, and numbers are checked against ``config_ranges`` (``key -> (low, high)``, inclusive, ``None`` = unbounded).
    """

    kind: ClassVar[str] = "entry"
    meta: ClassVar[Any] = None
    default_config: ClassVar[dict[str, Any]] = {}
    config_ranges: ClassVar[dict[str, tuple[float | None, float | None]]] = {}
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
        for key, value in self.config.items():
            self._check_value(key, value)

    def _check_value(self, key: str, value: Any) -> None:
        default = self.default_config[key]
        where = f"{self.kind} {self.name!r}: config {key}={value!r}"
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false")
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if isinstance(default, (int, float)) and not isinstance(default, bool) and not number \
                and isinstance(value, (str, bool)):
            raise ValueError(f"{where}: expected a number")
        low, high = self.config_ranges.get(key, (None, None))
        if number and (
                (low is not None and value < low) or (high is not None and value > high)):
            bounds = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
            raise ValueError(f"{where}: outside the allowed range {bounds}")

    @classmethod
    def from_profile(cls, profile: str, overrides: dict[str, Any] | None = None):
        cfg = copy.deepcopy(cls.profile_configs.get(profile, {}))
        cfg.update(overrides or {})
        return cls(cfg)

    @property
    def name(self) -> str:
        assert self.meta is not None
        return self.meta.name
