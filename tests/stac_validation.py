"""Offline STAC validation for tests: pystac's packaged core schemas + the extension schemas in stac_schemas/.

pystac's default validator downloads every extension schema; tests run without network, so this validator
knows only local schemas and fails on any other URI (see stac_schemas/README.md for where they come from).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pystac
import pystac.validation
from pystac.validation.stac_validator import JsonSchemaSTACValidator

SCHEMA_DIR = Path(__file__).parent / "stac_schemas"


class OfflineSchemaError(AssertionError):
    """An object declares an extension that has no local schema."""


class OfflineValidator(JsonSchemaSTACValidator):
    """pystac's JSON-schema validator with a fixed, local schema set and no fetching."""

    def __init__(self) -> None:
        super().__init__()  # loads pystac's own core 1.1.0 schemas (item, collection, catalog, GeoJSON)
        for path in sorted(SCHEMA_DIR.glob("*.json")):
            schema = json.loads(path.read_text())
            self.schema_cache[schema["$id"]] = schema

    def _get_schema(self, schema_uri: str) -> dict[str, Any]:
        if schema_uri not in self.schema_cache:
            raise OfflineSchemaError(
                f"No local schema for {schema_uri}; add one to {SCHEMA_DIR} (validation never uses the network)."
            )
        return self.schema_cache[schema_uri]


def validate_stac(document: dict[str, Any]) -> list[str]:
    """Validate an item or collection dict against the core and every extension it declares; the schema URIs used.

    Raises:
        pystac.errors.STACValidationError: The document breaks a schema (the message names the field).
        OfflineSchemaError: It declares an extension without a local schema.
    """
    return pystac.validation.validate_dict(document, validator=OfflineValidator())
