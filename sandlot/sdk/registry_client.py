"""Images and snapshots between hosts: a `sandlot serve` registry's client, and the tar
format both sides use (the server packs, unpacks and installs with these same functions).

An image travels as one tar of its rootfs, named by the sha256 of the tar's bytes. A pull
downloads into a staging folder of the local image store, checks the length and the digest
the registry announced, unpacks with a filter that keeps every member inside the rootfs,
and only then renames the folder into the store: a truncated or tampered download raises
`ImageError` and leaves nothing behind. The local image is addressed by the digest of what
was downloaded, never by a digest the server claims, so a registry cannot overwrite an
image this host built. A snapshot travels the same way into this host's snapshot store.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx

from .. import wire
from ..errors import ImageError, InvalidArgument, NotFound
from ..runtimes.hostfs import remove_tree
from ..wire import DIGEST_HEADER, parse_ref
from . import saved
from .tree_tar import add_tree, extract_snapshot

__all__ = ["DIGEST_HEADER", "RegistryClient", "install", "pack", "parse_ref", "unpack"]

_CHUNK = 1 << 20

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes in all) as a transfer goes."""


class _Hashing:
    """A write-only file that hashes and counts what passes through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


def pack(rootfs: Path, dest: Path) -> tuple[str, int]:
    """Write a tar of `rootfs` to `dest` (atomically); its (sha256 hex, size).

    A snapshot's folder holds a guest's files, so the tree is walked by fd (`add_tree`:
    links stored as links, never followed, any depth), not by tarfile's recursive walk."""
    tmp = dest.with_name(dest.name + f".{os.getpid()}.part")
    try:
        with open(tmp, "wb") as raw:
            out = _Hashing(raw)
            with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                add_tree(tar, rootfs)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out.sha.hexdigest(), out.size


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([path, root]) == root


def _member_filter(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """tarfile's "tar" filter, except that a symlink may point anywhere: a rootfs is full
    of absolute links, meant for the sandbox's root. Every member's own path (through links
    already unpacked) must stay inside `dest`."""
    if not member.issym():
        try:
            return tarfile.tar_filter(member, dest)
        except tarfile.FilterError as e:
            raise ImageError(f"the image holds an unsafe member: {e}") from None
    name = member.name
    if name.startswith("/") or ".." in Path(name).parts:
        raise ImageError(f"the image holds an unsafe link {name!r}")
    parent = os.path.realpath(os.path.join(dest, os.path.dirname(name)))
    if not _inside(parent, os.path.realpath(dest)):
        raise ImageError(f"the image's link {name!r} would be made outside the rootfs")
    return member


def unpack(blob: Path, rootfs: Path, *, snapshot: bool = False) -> None:
    """Unpack a registry tar into `rootfs`: an image's (links may point anywhere, read
    inside the sandbox), or with `snapshot` a snapshot's folder (`extract_snapshot`: by fd,
    links only in the guest's files and pointing inside)."""
    rootfs.mkdir(parents=True, exist_ok=True)
    what = "snapshot" if snapshot else "image"
    try:
        with tarfile.open(blob, mode="r:") as tar:
            if snapshot:
                extract_snapshot(tar, rootfs)
            else:
                tar.extractall(rootfs, filter=_member_filter)
    except tarfile.TarError as e:
        raise ImageError(f"the {what}'s tar is corrupt: {e}") from None
    except OSError as e:  # e.g. a member's path longer than the host allows
        raise ImageError(f"cannot unpack the {what}: {e.strerror} ({e.filename})") from None


def install(blob: Path, name: str, digest: str, origin: str) -> Any:
    """Make the verified tar `blob` the local image `name` (content digest `digest`),
    atomically; the image store's own staging and locks do the rest."""
    from ..images import agent, store

    with store.lock(digest):
        store.sweep()
        existing = store.by_digest(digest)
        if existing is not None:
            return store.rename(existing, name) if existing.name != name else existing
        with store.Staging(digest) as staging:
            unpack(blob, staging.rootfs)
            agent.install(staging.rootfs, trusted_python=False)
            return staging.commit(
                name=name, source="import", recipe=None, extra={"pulled_from": origin}
            )


class RegistryClient:
    """`GET /v1/registry`, pull and push against one server."""

    def __init__(self, base_url: str, api_key: str | None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InvalidArgument(f"registry URL must be http:// or https://; got {base_url!r}")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=httpx.Timeout(60.0, connect=10.0)
        )

    def close(self) -> None:
        self.http.close()

    def _check(self, r: httpx.Response) -> None:
        if r.status_code < 400:
            return
        try:
            body = r.json()
        except ValueError:
            body = None
        err = wire.error_from_json(body) if isinstance(body, dict) else None
        if err is not None:
            raise err
        raise ImageError(f"the registry at {self.base_url} answered {r.status_code}")

    def entries(self) -> list[dict[str, Any]]:
        try:
            r = self.http.get("/v1/registry")
        except httpx.HTTPError as e:
            raise ImageError(f"cannot reach the registry at {self.base_url}: {e}") from None
        self._check(r)
        got = r.json().get("entries")
        if not isinstance(got, list):
            raise ImageError(f"the registry at {self.base_url} sent no entry list")
        return [e for e in got if isinstance(e, dict)]

    def entry(self, name: str, tag: str, kind: str | None = None) -> dict[str, Any]:
        """The listing's entry for name:tag; `kind` ("image", "snapshot") picks one when
        both are there (an entry without a kind is an image)."""
        found = [
            e
            for e in self.entries()
            if e.get("name") == name
            and e.get("tag") == tag
            and kind in (None, e.get("kind", "image"))
        ]
        if not found:
            what = kind or "image or snapshot"
            raise NotFound(f"the registry at {self.base_url} has no {what} {name}:{tag}")
        if len(found) > 1:
            raise InvalidArgument(
                f"the registry at {self.base_url} has both an image and a snapshot "
                f"{name}:{tag}; say which (--kind image or --kind snapshot)"
            )
        return found[0]

    def _announced(self, entry: dict[str, Any], name: str, tag: str) -> tuple[str, int]:
        digest = str(entry.get("digest", "")).removeprefix("sha256:")
        size = entry.get("size")
        if not re.fullmatch(r"[0-9a-f]{64}", digest) or not isinstance(size, int) or size < 0:
            raise ImageError(f"the registry's entry for {name}:{tag} is malformed")
        return digest, size

    def pull(self, ref: str, progress: Progress | None = None, kind: str | None = None) -> Any:
        """Download `ref`, verify it, install it: the local `Image`, or for a snapshot
        its `SnapshotInfo` (in this host's snapshot store, under its name)."""
        from ..images import store

        name, tag = parse_ref(ref)
        entry = self.entry(name, tag, kind)
        if entry.get("kind", "image") == "snapshot":
            return self.pull_snapshot(name, tag, entry, progress)
        digest, size = self._announced(entry, name, tag)
        local = store.by_digest(digest)
        if local is not None:  # the same bytes are here already
            return store.rename(local, name) if local.name != name else local
        work = store.images_dir() / f".tmp-{os.getpid()}-pull-{digest[:12]}"
        work.mkdir(parents=True, exist_ok=True)
        blob = work / "blob.tar"
        try:
            self._download(name, tag, digest, size, blob, progress)
            return install(blob, name, digest, f"{self.base_url}/{name}:{tag}")
        finally:
            blob.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                work.rmdir()

    def pull_snapshot(
        self, name: str, tag: str, entry: dict[str, Any], progress: Progress | None = None
    ) -> Any:
        """Download a snapshot's tar, verify length and sha256, unpack it beside this
        host's snapshot store and only then rename it in: a damaged download leaves
        nothing. The local snapshot keeps the registry's name (never over one here)."""
        saved.check_snapshot_name(name)
        digest, size = self._announced(entry, name, tag)
        if os.path.lexists(saved.data_root() / "snapshots" / name):
            raise InvalidArgument(f"a snapshot named {name!r} exists here; delete it first")
        work = saved.staging("snapshots", name)
        try:
            blob = work / "blob.tar"
            self._download(name, tag, digest, size, blob, progress, kind="snapshot")
            unpack(blob, work / "entry", snapshot=True)
            return saved.info(saved.adopt("snapshots", name, work / "entry"))
        finally:
            remove_tree(work, ignore_errors=True)

    def _download(
        self,
        name: str,
        tag: str,
        digest: str,
        size: int,
        blob: Path,
        progress: Progress | None,
        kind: str = "image",
    ) -> None:
        where = f"{self.base_url} {name}:{tag}"
        try:
            with self.http.stream(
                "GET", f"/v1/registry/{name}/{tag}/blob", params={"kind": kind}
            ) as r:
                if r.status_code >= 400:
                    r.read()
                    self._check(r)
                if r.headers.get(DIGEST_HEADER, "") != f"sha256:{digest}":
                    raise ImageError(f"{where}: the blob's digest header disagrees with the list")
                with open(blob, "wb") as f:
                    out = _Hashing(f)
                    for chunk in r.iter_raw(_CHUNK):
                        if out.size + len(chunk) > size:
                            raise ImageError(f"{where}: the download is longer than announced")
                        out.write(chunk)
                        if progress is not None:
                            progress(out.size, size)
        except httpx.HTTPError as e:
            raise ImageError(
                f"{where}: the download broke off ({e}); nothing was installed"
            ) from None
        if out.size != size:
            raise ImageError(
                f"{where}: the download is truncated ({out.size} of {size} bytes); "
                "nothing was installed"
            )
        if out.sha.hexdigest() != digest:
            raise ImageError(
                f"{where}: the download's sha256 is {out.sha.hexdigest()}, not the announced "
                f"{digest}; nothing was installed"
            )

    def push_snapshot(
        self, name: str, tag: str = "latest", progress: Progress | None = None
    ) -> dict[str, Any]:
        """Upload this host's named snapshot `name` as the key's snapshot `name` on the
        server (never over one it has: InvalidArgument). `tag` is `latest` or the first 12
        hex digits of the uploaded tar's sha256. The server's registry entry."""
        saved.check_snapshot_name(name)
        folder = saved.data_root() / "snapshots" / name
        saved.read("snapshots", name)  # NotFound, saying how to list them
        work = saved.staging("snapshots", name, "push")
        try:
            return self.push(name, tag, folder, work, progress, kind="snapshot")
        finally:
            remove_tree(work, ignore_errors=True)

    def push(
        self,
        name: str,
        tag: str,
        rootfs: Path,
        work: Path,
        progress: Progress | None = None,
        kind: str = "image",
    ) -> dict[str, Any]:
        """Upload a local rootfs as `name` (the server files it under its own digest), or
        with `kind="snapshot"` a snapshot's folder."""
        blob = work / "push.tar"
        try:
            digest, size = pack(rootfs, blob)
            if kind == "snapshot" and tag not in ("latest", digest[:12]):
                raise InvalidArgument(
                    f"the snapshot {name} packs to {digest[:12]}, not {tag}: push it as "
                    f"{name}:latest or {name}:{digest[:12]}"
                )

            def chunks() -> Iterator[bytes]:
                done = 0
                with open(blob, "rb") as f:
                    while data := f.read(_CHUNK):
                        done += len(data)
                        if progress is not None:
                            progress(done, size)
                        yield data

            try:
                r = self.http.put(
                    f"/v1/registry/{name}/{tag}/blob",
                    params={"kind": kind} if kind != "image" else None,
                    content=chunks(),
                    headers={DIGEST_HEADER: f"sha256:{digest}", "Content-Length": str(size)},
                    timeout=httpx.Timeout(600.0, connect=10.0),
                )
            except httpx.HTTPError as e:
                raise ImageError(f"cannot push to {self.base_url}: {e}") from None
            self._check(r)
            return dict(r.json())
        finally:
            blob.unlink(missing_ok=True)
