"""The JSON schema of scened's TOML configuration (validated with jsonschema).

Every table refuses unknown keys so that a typo is reported instead of ignored.
Defaults live in :mod:`scened.config`, not here: the schema only says what is valid.
"""

from __future__ import annotations

from typing import Any

from scened.api.settings import api_schema

_PLUGIN_TABLE: dict[str, Any] = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"type": "string", "minLength": 1}},
    # sink and policy options belong to their plugin, which validates them itself
    "additionalProperties": True,
}

#: A library's policy: one table, or a list of tables run in order (read as the
#: built-in ``stack`` policy, see :mod:`scened.policies`).  ``required`` and
#: ``properties`` apply only to a table and ``items`` only to a list, so each form
#: keeps its own error messages without a ``oneOf``.
_POLICY: dict[str, Any] = {**_PLUGIN_TABLE, "type": ["object", "array"], "minItems": 1,
                           "items": _PLUGIN_TABLE}  # fmt: skip

_GLOBS: dict[str, Any] = {"type": "array", "items": {"type": "string", "minLength": 1}}

#: Crontab's ``@`` shorthands, which APScheduler 3.x does not read, as the 5-field
#: lines :func:`scened.config.cron_line` turns them into.
CRON_ALIASES: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


SCHEDULE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "interval": {"type": "integer", "minimum": 1, "description": "seconds between scans"},
        "cron": {
            "type": "string",
            "minLength": 1,
            "description": "5-field crontab line, or an alias such as @daily",
        },
    },
    "oneOf": [{"required": ["interval"]}, {"required": ["cron"]}],
}

LIBRARY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["path"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "path": {"type": "string", "minLength": 1},
        "include": _GLOBS,
        "exclude": _GLOBS,
        "policy": _POLICY,
        "sinks": {"type": "array", "items": _PLUGIN_TABLE},
        "schedule": SCHEDULE_SCHEMA,
        "max_missing_share": {"type": "number", "minimum": 0, "maximum": 1},
        "learn": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "after_labels": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "the daemon runs scened learn once this many new labels",
                },
            },
        },
    },
}

MODEL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "path": {"type": "string", "minLength": 1},
        "name": {"type": "string", "minLength": 1},
        "runtime": {"enum": ["litert", "keras"]},
        "batch_size": {"type": "integer", "minimum": 1, "maximum": 1024},
        "threads": {"type": "integer", "minimum": 0, "maximum": 256},
        # classifying on other machines (scened.model.remote, docs/remote.md)
        "remote": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "pattern": "^https?://[^/\\s]+"},
            "description": "scened serve URLs that classify the batches",
        },
        "remote_token": {"type": "string", "minLength": 1},
        "remote_fallback": {"enum": ["local", "fail"]},
        "remote_decode": {
            "type": "boolean",
            "description": "send the photos' files: the servers decode them",
        },
    },
}

PIPELINE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "readers": {"type": "integer", "minimum": 1, "maximum": 64},
        "writers": {"type": "integer", "minimum": 1, "maximum": 16},
        "queue_size": {"type": "integer", "minimum": 1, "maximum": 4096},
        "settle_seconds": {"type": "number", "minimum": 0, "maximum": 86400},
    },
}

#: ``[api]``: made from the API's own settings (:mod:`scened.api.settings`).
API_SCHEMA: dict[str, Any] = api_schema()

CLUSTER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "scheduler": {
            "type": "string",
            "minLength": 1,
            "description": "the Dask scheduler's address, e.g. tcp://scheduler:8786",
        },
        "batch_size": {"type": "integer", "minimum": 1, "maximum": 4096},
        "connect_timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
    },
}

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "state_dir": {"type": "string", "minLength": 1},
        "model": MODEL_SCHEMA,
        "pipeline": PIPELINE_SCHEMA,
        "api": API_SCHEMA,
        "cluster": CLUSTER_SCHEMA,
        "libraries": {"type": "array", "items": LIBRARY_SCHEMA},
    },
}
