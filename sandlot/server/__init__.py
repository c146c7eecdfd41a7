"""`sandlot serve`: sandboxes behind a REST API, for agents on other machines and teams.

`create_app(config)` builds the FastAPI app; `sandlot serve` runs it on uvicorn.
"""

from __future__ import annotations

from .app import create_app
from .config import ServerConfig
from .keys import KeyStore

__all__ = ["KeyStore", "ServerConfig", "create_app"]
