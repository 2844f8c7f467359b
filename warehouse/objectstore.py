"""Object storage under the storage URL: whole objects put and got, create-if-absent, listing.

One client for S3, Google Cloud Storage, Azure and local paths (``obstore``, imported only
when a storage URL is set). Credentials come from the cloud's own chain: environment
variables (``AWS_ACCESS_KEY_ID``, ``GOOGLE_APPLICATION_CREDENTIALS``, ``AZURE_…``), an
instance or workload role, and for S3 a profile (``AWS_PROFILE``, through boto3 when it is
installed). Nothing here holds or prints them: the URL carries none (the settings refuse
one that does) and the client reads them itself.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from warehouse.files import atomic_path

# parts above this size go up as a multipart upload, so a large database is never whole
# in memory; a reader sees the old object or the new one, never a part
_PART_BYTES = 8 * 2**20
_MISSING_IS_AN_ANSWER = frozenset({"reading", "downloading", "removing"})


class ObjectStoreError(OSError):
    """An object store request failed; worded for the user, never carrying credentials."""


def delta_options(url: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Storage options for Delta Lake: S3 commits made safe for concurrent writers.

    Delta needs an atomic "create if absent" for its commit files. S3 has it as a
    conditional put (``If-None-Match``), which AWS and the S3-compatible stores support;
    a user who runs a DynamoDB lock instead sets ``AWS_S3_LOCKING_PROVIDER`` and this
    default steps aside.
    """
    env = os.environ if environ is None else environ
    if not url.startswith("s3://"):
        return {}
    if env.get("AWS_S3_LOCKING_PROVIDER") or env.get("AWS_CONDITIONAL_PUT"):
        return {}
    return {"AWS_CONDITIONAL_PUT": "etag"}


def _client(url: str) -> Any:
    from obstore.store import from_url

    if url.startswith("file://"):
        root = Path(url.removeprefix("file://"))
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return from_url(url)
    # a store that does not answer fails a run's publish in about a minute, not three
    options: dict[str, Any] = {
        "retry_config": {"max_retries": 4, "retry_timeout": timedelta(seconds=60)}
    }
    if url.startswith("s3://") and os.environ.get("AWS_PROFILE"):
        try:
            from obstore.auth.boto3 import Boto3CredentialProvider
        except ImportError:  # boto3 absent: the environment and instance role still work
            pass
        else:
            options["credential_provider"] = Boto3CredentialProvider()
    return from_url(url, **options)


class ObjectStore:
    """Objects under one storage URL, addressed by keys relative to it."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._store = _client(self.url)
        self.requests = 0  # requests this client has sent, for the run's figures

    def __repr__(self) -> str:
        return f"ObjectStore({self.url!r})"

    def _call(self, what: str, key: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        self.requests += 1
        try:
            return call(self._store, *args, **kwargs)
        except NotImplementedError:
            raise
        except Exception as exc:
            from obstore.exceptions import AlreadyExistsError, NotFoundError, PreconditionError

            if isinstance(exc, AlreadyExistsError | PreconditionError):
                raise
            # "not found" answers a read or a removal; to a write or a listing it means
            # the bucket itself is missing
            missing = isinstance(exc, NotFoundError | FileNotFoundError)
            if missing and what in _MISSING_IS_AN_ANSWER:
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ObjectStoreError(
                f"{what} {self.url}/{key} failed ({first[:200]}); check the storage URL, "
                "that the bucket exists and that the credentials may read and write it"
            ) from None

    def put_bytes(self, key: str, data: bytes, *, create: bool = False) -> bool:
        """Write ``data`` to ``key``; with ``create`` only if absent (False when it exists)."""
        import obstore
        from obstore.exceptions import AlreadyExistsError

        mode = "create" if create else "overwrite"
        try:
            self._call("writing", key, obstore.put, key, data, mode=mode)
        except AlreadyExistsError:
            return False
        return True

    def put_file(self, key: str, path: Path) -> None:
        """Upload the file at ``path`` to ``key`` (in parts when large)."""
        import obstore

        with open(path, "rb") as source:
            self._call("uploading", key, obstore.put, key, source, chunk_size=_PART_BYTES)

    def get_bytes(self, key: str) -> bytes | None:
        """The object at ``key``, or None when there is none."""
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            return bytes(self._call("reading", key, obstore.get, key).bytes())
        except (NotFoundError, FileNotFoundError):
            return None

    def get_versioned(self, key: str) -> tuple[bytes, str | None] | None:
        """The object at ``key`` with its version tag (ETag), or None when there is none."""
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            result = self._call("reading", key, obstore.get, key)
        except (NotFoundError, FileNotFoundError):
            return None
        return bytes(result.bytes()), result.meta.get("e_tag")

    def replace_bytes(self, key: str, data: bytes, etag: str | None) -> bool:
        """Replace ``key`` only if it is still at version ``etag``; False when it moved on.

        A local directory has no conditional replace: there the old object is removed and
        the new one created if absent, which only one of two racing processes wins.
        """
        import obstore
        from obstore.exceptions import PreconditionError

        if etag is not None:
            try:
                self._call("replacing", key, obstore.put, key, data, mode={"e_tag": etag})
            except PreconditionError:
                return False
            except NotImplementedError:
                pass
            else:
                return True
        self.delete(key)
        return self.put_bytes(key, data, create=True)

    def get_file(self, key: str, path: Path) -> bool:
        """Download ``key`` to ``path`` atomically; False when there is no such object."""
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            result = self._call("downloading", key, obstore.get, key)
        except (NotFoundError, FileNotFoundError):
            return False
        with atomic_path(path) as tmp, open(tmp, "wb") as target:
            for chunk in result.stream(min_chunk_size=_PART_BYTES):
                target.write(chunk)
        return True

    def delete(self, key: str) -> None:
        """Remove ``key``; no error when it is already gone."""
        import obstore
        from obstore.exceptions import NotFoundError

        with contextlib.suppress(NotFoundError, FileNotFoundError):
            self._call("removing", key, obstore.delete, key)

    def list(self, prefix: str) -> Iterator[str]:
        """Keys under ``prefix``."""
        import obstore

        stream = self._call("listing", prefix, obstore.list, prefix)
        for batch in stream:
            for meta in batch:
                yield meta["path"]
