"""A raw run as two objects: its pages in one gzip batch, and a manifest that locates them.

The batch is the run's compressed page bodies back to back, each exactly the bytes of its
local ``page-NNNNN.json.gz`` (a gzip file may hold several members, so ``zcat`` of the
batch gives the bodies in page order): nothing is decompressed or compressed again. The
manifest holds the run's ``run.json`` and ``complete.json``, and per page its metadata
(number, request path, receive time) with the offset and length of its body in the batch,
and the batch's size and SHA-256. It carries nothing the local run does not: no headers,
no credentials. Unpacking writes the same files the run had on the disk it came from.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, BinaryIO

from warehouse import raw
from warehouse.files import ensure_dir, sync_files, write_atomic, write_quick

FORMAT = 1
_META_KEYS = ("page", "request_path", "received_at")


class BatchMismatch(ValueError):
    """A batch that is not the one its manifest describes (size or digest differ)."""


def pack(run_dir: Path, target: BinaryIO) -> dict[str, Any]:
    """Write the pages of the complete run in ``run_dir`` to ``target``; returns its manifest."""
    digest, offset, pages = hashlib.sha256(), 0, []
    for number in raw.landed_numbers(run_dir):
        body_path, meta_path = raw.page_files(run_dir, number)
        meta = json.loads(meta_path.read_bytes())
        body = body_path.read_bytes()
        target.write(body)
        digest.update(body)
        pages.append({**{k: meta[k] for k in _META_KEYS}, "offset": offset, "length": len(body)})
        offset += len(body)
    return {
        "format": FORMAT,
        "run": json.loads((run_dir / raw.RUN_FILE).read_bytes()),
        "complete": json.loads((run_dir / raw.COMPLETE_FILE).read_bytes()),
        "pages": pages,
        "batch_bytes": offset,
        "batch_sha256": digest.hexdigest(),
    }


def encode(manifest: dict[str, Any]) -> bytes:
    """The manifest as stored."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()


def decode(data: bytes) -> dict[str, Any]:
    """A stored manifest; raises ValueError when it is not one this version reads."""
    manifest = json.loads(data)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError("not a raw batch manifest of a format this version reads")
    return manifest


def unpack(manifest: dict[str, Any], batch: bytes, run_dir: Path) -> None:
    """Land the run ``manifest`` describes in ``run_dir`` from its ``batch``, complete last.

    Raises :class:`BatchMismatch` before writing anything when the batch is not the one
    the manifest describes.
    """
    size, expected = manifest["batch_bytes"], manifest["batch_sha256"]
    if len(batch) != size or hashlib.sha256(batch).hexdigest() != expected:
        raise BatchMismatch(f"raw batch of {size} bytes does not match its manifest")
    ensure_dir(run_dir)
    write_atomic(run_dir / raw.RUN_FILE, json.dumps(manifest["run"], sort_keys=True).encode())
    for page in manifest["pages"]:
        body_path, meta_path = raw.page_files(run_dir, int(page["page"]))
        write_quick(body_path, batch[page["offset"] : page["offset"] + page["length"]])
        meta = {k: page[k] for k in _META_KEYS}
        write_quick(meta_path, json.dumps(meta, sort_keys=True).encode())
    sync_files(run_dir)
    write_atomic(run_dir / raw.COMPLETE_FILE, json.dumps(manifest["complete"]).encode())
