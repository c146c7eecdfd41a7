"""`create_app`: the REST face of sandlot, a thin FastAPI layer over `SandboxCore`.

The app is assembled here and nothing else happens here: the routes (`routes/`, one module
per resource) turn HTTP into calls on the `Service` (`service.py`), which owns ownership,
caps and lifetimes; `errors.py` maps every failure to a status and the one error body;
`sse.py` streams. The service and the key store sit on `app.state`, and the routes reach
them through the dependencies in `deps.py`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from .. import __version__
from . import errors
from .body_cap import BodyCap
from .config import ServerConfig
from .keys import KeyStore
from .routes import ROUTERS
from .service import Service


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    service: Service = app.state.service
    await service.start()
    try:
        yield
    finally:
        await service.stop()
        if app.state.owns_keys:
            app.state.keys.close()


def create_app(config: ServerConfig | None = None, *, keys: KeyStore | None = None) -> FastAPI:
    """The server app. `keys` defaults to the store in `config.data_dir` (closed with the
    app; a store given is the caller's to close)."""
    cfg = config or ServerConfig()
    store = keys or KeyStore(cfg.db_path)
    service = Service(cfg)  # a bad [pools] table: ValueError now

    app = FastAPI(
        title="sandlot",
        version=__version__,
        description="Run untrusted code in sandboxes. Every route but /v1/health needs "
        "`Authorization: Bearer KEY` (create keys with `sandlot keys create`).",
        lifespan=_lifespan,
    )
    app.state.service = service
    app.state.keys = store
    app.state.owns_keys = keys is None
    # What tests and operators read directly: the same objects the service holds.
    app.state.config = cfg
    app.state.table = service.table
    app.state.metrics = service.metrics
    app.state.pools = service.pools

    errors.install(app)
    app.add_middleware(BodyCap, cap=cfg.limits.body_bytes)
    for router in ROUTERS:
        app.include_router(router)
    return app
