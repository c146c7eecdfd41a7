"""Synthesised image tarballs for the import tests: OCI layouts and `docker save` files."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Entry:
    """One member of a layer: kind is file, dir, symlink, hardlink, chr or fifo."""

    name: str
    kind: str = "file"
    data: bytes = b""
    mode: int = 0o644
    link: str = ""
    uid: int = 0
    gid: int = 0
    extra: dict[str, int] = field(default_factory=dict)


_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "chr": tarfile.CHRTYPE,
    "fifo": tarfile.FIFOTYPE,
}


def layer(entries: list[Entry], *, gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type = _TYPES[e.kind]
            info.mode = e.mode
            info.uid, info.gid = e.uid, e.gid
            info.mtime = 1_700_000_000
            info.linkname = e.link
            if e.kind == "chr":
                info.devmajor, info.devminor = 1, 3
            if e.kind == "file":
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
            else:
                tar.addfile(info)
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0) if gz else raw


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def oci_layout(
    path: Path, layers: list[bytes], *, ref: str | None = "demo:1", bad_digest: bool = False
) -> Path:
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {}}).encode()
    descs = [
        {
            "mediaType": "application/vnd.oci.image.layer.v1.tar"
            + ("+gzip" if data[:2] == b"\x1f\x8b" else ""),
            "digest": _sha(data),
            "size": len(data),
        }
        for data in layers
    ]
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _sha(config),
                "size": len(config),
            },
            "layers": descs,
        }
    ).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": _sha(manifest),
                "size": len(manifest),
                "platform": {"architecture": "amd64", "os": "linux"},
                **({"annotations": {"org.opencontainers.image.ref.name": ref}} if ref else {}),
            }
        ],
    }
    with tarfile.open(path, "w") as tar:
        _add(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        _add(tar, "index.json", json.dumps(index).encode())
        for blob in (config, manifest):
            _add(tar, "blobs/sha256/" + hashlib.sha256(blob).hexdigest(), blob)
        for data in layers:  # a tampered blob: trailing bytes the tar reader never looks at
            stored = data + b"\0" * 4096 if bad_digest else data
            _add(tar, "blobs/sha256/" + hashlib.sha256(data).hexdigest(), stored)
    return path


def docker_save(path: Path, layers: list[bytes], *, tag: str = "demo:latest") -> Path:
    config = json.dumps({"architecture": "amd64", "os": "linux", "n": len(layers)}).encode()
    cfg_name = hashlib.sha256(config).hexdigest() + ".json"
    names = [f"{i:02d}{hashlib.sha256(d).hexdigest()[:10]}/layer.tar" for i, d in enumerate(layers)]
    manifest = [{"Config": cfg_name, "RepoTags": [tag], "Layers": names}]
    with tarfile.open(path, "w") as tar:
        _add(tar, "manifest.json", json.dumps(manifest).encode())
        _add(tar, cfg_name, config)
        for name, data in zip(names, layers, strict=True):
            _add(tar, name, data)
    return path
