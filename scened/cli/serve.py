"""``scened serve``: the REST API under uvicorn (``POST /classify``, docs at ``/docs``)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from scened.errors import ScenedError


@click.command("serve")
@click.option("--host", help="Address to bind (default 127.0.0.1: this machine only).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default 8080).")
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes (default 1).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Configuration file whose [api] table applies (default: the usual search).",
)
@click.option(
    "--model",
    "model_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="A model folder (default: the bundled model).",
)
@click.option(
    "--runtime",
    type=click.Choice(["litert", "keras"]),
    help="How the model runs: litert (no TensorFlow needed) or keras (needs the train extra).",
)
def serve_cmd(
    host: str | None,
    port: int | None,
    workers: int | None,
    config_path: Path | None,
    model_dir: Path | None,
    runtime: str | None,
) -> None:
    """Serve the REST API: POST /classify, GET /health, docs at /docs.

    Settings come from the configuration file's [api] table, SCENED_API_*
    environment variables, then these options.  A bearer token is required when
    [api] token or the variable named by token_env (SCENED_API_TOKEN) is set.
    """
    from scened.api.settings import ApiSettings, config_table

    settings = ApiSettings.load(config_table(config_path)).replace(
        host=host, port=port, workers=workers, model_dir=model_dir, runtime=runtime
    )
    try:
        from scened.api.server import serve as serve_api
    except ImportError:
        raise ScenedError("scened serve needs the api extra: pip install 'scened[api]'") from None
    # Every worker process builds scened.api:app from the environment.
    os.environ.update(settings.to_environ())
    if config_path is not None:
        os.environ["SCENED_CONFIG"] = str(config_path)
    serve_api(settings)  # uvicorn, with scened's connection guards (timeouts, limit)
