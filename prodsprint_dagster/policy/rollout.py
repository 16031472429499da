"""The rollout plan a risk band gets: policy data in pack.yaml, not code.

Riskier changes get more steps, longer soaks, more analysis samples and a manual gate; the
mapping lives in the pack so that a platform team tunes it without touching the engine. The
shape is shared with the plan renderer (Argo Rollouts steps) and the release state machine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prodsprint_dagster.policy.errors import PolicyError

if TYPE_CHECKING:
    from prodsprint_dagster.policy.pack import PolicyPack

BANDS: tuple[str, ...] = ("low", "medium", "high")
STRATEGIES: tuple[str, ...] = ("canary", "bluegreen")


def _int(value: Any, where: str, *, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise PolicyError(f"{where}: expected an integer >= {low}, got {value!r}")
    if high is not None and value > high:
        raise PolicyError(f"{where}: expected an integer <= {high}, got {value!r}")
    return value


def _analysis(value: Any, where: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise PolicyError(f"{where}: expected a mapping with interval_seconds and min_samples")
    return {
        "interval_seconds": _int(value.get("interval_seconds"), f"{where}.interval_seconds", low=1),
        "min_samples": _int(value.get("min_samples"), f"{where}.min_samples", low=1),
    }


def validate_rollout(config: Any, where: str) -> dict[str, Any]:
    """The normalized rollout mapping of a pack, or a PolicyError naming the bad key."""
    if not isinstance(config, dict):
        raise PolicyError(f"{where}: `rollout` must be a mapping with `bands`")
    default_band = config.get("default_band", "medium")
    if default_band not in BANDS:
        raise PolicyError(f"{where}: rollout.default_band must be one of {', '.join(BANDS)}")
    analysis = _analysis(config.get("analysis"), f"{where}: rollout.analysis")
    bands_in = config.get("bands")
    if not isinstance(bands_in, dict) or set(bands_in) != set(BANDS):
        raise PolicyError(f"{where}: rollout.bands must define exactly {', '.join(BANDS)}")
    bands: dict[str, Any] = {}
    for band in BANDS:
        spec = bands_in[band]
        at = f"{where}: rollout.bands.{band}"
        if not isinstance(spec, dict):
            raise PolicyError(f"{at}: expected a mapping")
        strategy = spec.get("strategy", "canary")
        if strategy not in STRATEGIES:
            raise PolicyError(f"{at}.strategy must be one of {', '.join(STRATEGIES)}")
        raw_steps = spec.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            raise PolicyError(f"{at}.steps: expected a non-empty list")
        steps = []
        previous = -1
        for i, raw in enumerate(raw_steps):
            if not isinstance(raw, dict):
                raise PolicyError(f"{at}.steps[{i}]: expected a mapping with weight")
            weight = _int(raw.get("weight"), f"{at}.steps[{i}].weight", low=0, high=100)
            if weight <= previous:
                raise PolicyError(f"{at}.steps[{i}].weight: weights must increase")
            previous = weight
            steps.append(
                {
                    "weight": weight,
                    "pause_seconds": _int(
                        raw.get("pause_seconds", 0), f"{at}.steps[{i}].pause_seconds", low=0
                    ),
                    "analysis": bool(raw.get("analysis", False)),
                    "manual": bool(raw.get("manual", False)),
                }
            )
        if steps[-1]["weight"] != 100:
            raise PolicyError(f"{at}.steps: the last step must reach weight 100")
        if strategy == "bluegreen" and (
            [st["weight"] for st in steps] != [0, 100] or not steps[0]["analysis"]
        ):
            raise PolicyError(
                f"{at}.steps: a bluegreen rollout has two steps: weight 0 with analysis (the "
                "pre-promotion analysis on preview traffic), then weight 100 (the switch, with "
                "post-promotion analysis when `analysis: true`)"
            )
        band_analysis = (
            _analysis(spec["analysis"], f"{at}.analysis") if "analysis" in spec else analysis
        )
        bands[band] = {"strategy": strategy, "steps": steps, "analysis": band_analysis}
    return {"default_band": default_band, "analysis": analysis, "bands": bands}


def rollout_plan_for(band: str | None, pack: PolicyPack) -> dict[str, Any]:
    """The rollout plan for a risk band (None: the pack's default band, medium unless set)."""
    rollout = pack.rollout
    chosen = rollout["default_band"] if band is None else band
    if chosen not in rollout["bands"]:
        raise PolicyError(f"unknown risk band {band!r}; expected one of {', '.join(BANDS)}")
    spec = rollout["bands"][chosen]
    return {
        "strategy": spec["strategy"],
        "band": chosen,
        "steps": [dict(step) for step in spec["steps"]],
        "analysis": dict(spec["analysis"]),
    }
