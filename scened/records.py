"""The record the json and webhook sinks emit for each tagged or untagged photo."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scened.types import TagResult


def tag_record(result: TagResult, top: int = 3) -> dict[str, Any]:
    """What the json and webhook sinks say about one tagged photo."""
    return {
        "event": "tagged",
        "path": str(result.path),
        "tags": list(result.tags),
        "top": [
            {"class": name, "probability": round(probability, 6)}
            for name, probability in result.prediction.top(top)
        ],
        "model_id": result.prediction.model_id,
        "policy": result.policy,
        "library": result.library,
        "time": result.tagged_at.isoformat(),
    }


def untag_record(path: Path) -> dict[str, Any]:
    return {"event": "untagged", "path": str(path), "time": datetime.now(UTC).isoformat()}
