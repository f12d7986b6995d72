"""The xDS files Envoy watches: one directory per resource kind, swapped in by atomic rename.

Envoy's file-based xDS (`path_config_source` + `watched_directory`) reloads a file when one is
*moved into* its directory (inotify IN_MOVED_TO); a write in place is never seen, and a
half-written file never is either. Each kind has its own directory so that a swap reloads only
that kind. Each file is a DiscoveryResponse whose `version_info` is a hash of its resources, so
"has Envoy taken this file?" is "does its `version_text` stat show this hash?".
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from zerogate.gateway.envoy._clusters import build_clusters
from zerogate.gateway.envoy._listener import STAT_PREFIX, build_listener
from zerogate.gateway.envoy._local_decisions import Denials
from zerogate.gateway.envoy._route_config import ROUTE_CONFIG_NAME, build_route_config
from zerogate.gateway.envoy._routes import Gateway


class XdsKind(StrEnum):
    LDS = "lds"
    CDS = "cds"
    RDS = "rds"

    @property
    def type_url(self) -> str:
        return {
            XdsKind.LDS: "type.googleapis.com/envoy.config.listener.v3.Listener",
            XdsKind.CDS: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
            XdsKind.RDS: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
        }[self]

    @property
    def version_stat(self) -> str:
        """The admin stats prefix that reports this subscription's accepted version."""
        return {
            XdsKind.LDS: "listener_manager.lds",
            XdsKind.CDS: "cluster_manager.cds",
            XdsKind.RDS: f"http.{STAT_PREFIX}.rds.{ROUTE_CONFIG_NAME}",
        }[self]


@dataclass(frozen=True, slots=True)
class XdsDocument:
    """One xDS file's content: the resources of one kind and their content-derived version."""

    kind: XdsKind
    resources: tuple[dict[str, Any], ...]
    version: str

    @classmethod
    def of(cls, kind: XdsKind, resources: list[dict[str, Any]]) -> XdsDocument:
        digest = hashlib.sha256(orjson.dumps(resources, option=orjson.OPT_SORT_KEYS))
        return cls(kind=kind, resources=tuple(resources), version=digest.hexdigest()[:16])

    def to_json(self) -> bytes:
        typed = [{"@type": self.kind.type_url, **resource} for resource in self.resources]
        document = {"version_info": self.version, "resources": typed}
        return orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)


@dataclass(frozen=True, slots=True)
class XdsLayout:
    """Where the files live: `ROOT/lds/lds.json`, `ROOT/cds/cds.json`, `ROOT/rds/rds.json`."""

    root: Path

    def file(self, kind: XdsKind) -> Path:
        return self.root / kind.value / f"{kind.value}.json"

    def config_source(self, kind: XdsKind) -> dict[str, Any]:
        path = self.file(kind)
        return {
            "resource_api_version": "V3",
            "path_config_source": {
                "path": str(path),
                "watched_directory": {"path": str(path.parent)},
            },
        }

    def write(self, document: XdsDocument) -> None:
        """Swap `document` in: a temp file in the same directory, then one atomic rename."""
        path = self.file(document.kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(document.to_json())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


@dataclass(frozen=True, slots=True)
class XdsSnapshot:
    """The three documents for one Gateway."""

    lds: XdsDocument
    cds: XdsDocument
    rds: XdsDocument


def render(gateway: Gateway, layout: XdsLayout, denials: Denials | None = None) -> XdsSnapshot:
    listener = build_listener(gateway, rds=layout.config_source(XdsKind.RDS))
    return XdsSnapshot(
        lds=XdsDocument.of(XdsKind.LDS, [listener]),
        cds=XdsDocument.of(XdsKind.CDS, build_clusters(gateway)),
        rds=render_routes(gateway, denials),
    )


def render_routes(gateway: Gateway, denials: Denials | None = None) -> XdsDocument:
    """The route table alone: what a deny-list change swaps."""
    return XdsDocument.of(XdsKind.RDS, [build_route_config(gateway, denials)])


def merge_clusters(old: XdsDocument, new: XdsDocument) -> XdsDocument:
    """Old and new clusters together (new wins on a name): make before break on a reload."""
    by_name = {str(c["name"]): c for c in old.resources}
    by_name.update({str(c["name"]): c for c in new.resources})
    return XdsDocument.of(XdsKind.CDS, [by_name[name] for name in sorted(by_name)])
