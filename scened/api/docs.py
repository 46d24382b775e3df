"""``/docs`` from the API server itself: Swagger UI's files from an installed package.

FastAPI's own ``/docs`` page loads Swagger UI's script and style sheet from a CDN
(and its icon from fastapi.tiangolo.com), so on a NAS or any machine without
internet it stays blank.  Here the page points at the copy of Swagger UI that
the ``swagger-ui-bundle-v2`` package installs (the connexion project's bundle of
Swagger UI 5, which renders the OpenAPI 3.1 documents FastAPI writes), served
as static files under :data:`ASSETS_URL`.  The page itself is FastAPI's
(``get_swagger_ui_html``), with Swagger UI's online validator turned off, so
that opening ``/docs`` requests nothing but this server.  FastAPI's ``/redoc``
page, which also needs a CDN and Google's fonts, is not served.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

DOCS_URL = "/docs"
#: Where Swagger UI's files are served (the package's folder, as it is installed).
ASSETS_URL = "/docs/assets"
#: Swagger UI's options beyond FastAPI's defaults: no request to validator.swagger.io.
SWAGGER_UI_PARAMETERS: dict[str, object] = {"validatorUrl": None}


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (and its assets) from ``app``, which must be built with ``docs_url=None``.

    The page is left out of the OpenAPI document, as FastAPI's own is.
    """
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("the docs page needs the app's OpenAPI document (openapi_url)")
    app.mount(ASSETS_URL, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    async def swagger_ui(request: Request) -> HTMLResponse:
        """Swagger UI for the app's ``/openapi.json``, behind a proxy's root path too."""
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon-32x32.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    app.add_route(DOCS_URL, swagger_ui, include_in_schema=False)
