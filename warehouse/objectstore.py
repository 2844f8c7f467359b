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
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from warehouse import localstore
from warehouse.files import DIR_MODE, atomic_path
from warehouse.storeconfig import MAX_RETRIES, client_options, timeouts
from warehouse.storeconfig import delta_options as delta_options  # where the lake takes them

# parts above this size go up as a multipart upload, so a large database is never whole
# in memory; a reader sees the old object or the new one, never a part
_PART_BYTES = 8 * 2**20
_MISSING_IS_AN_ANSWER = frozenset({"reading", "downloading", "removing"})


class ObjectStoreError(OSError):
    """An object store request failed; worded for the user, never carrying credentials."""


def _client(url: str) -> Any:
    from obstore.store import from_url

    if url.startswith("file://"):
        root = Path(url.removeprefix("file://"))
        root.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        localstore.private_files(root)
        return from_url(url)
    request, _ = timeouts()
    options: dict[str, Any] = {
        "client_options": client_options(url, os.environ),
        "retry_config": {"max_retries": MAX_RETRIES, "retry_timeout": timedelta(seconds=request)},
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
    """Objects under one storage URL, addressed by keys relative to it.

    After a call fails without an answer from the store (a timeout, no connection), the
    client calls nothing more until :meth:`reconnect`: every later call fails at once with
    the first failure's line, so an unreachable store costs a run one wait, not one a call.
    Failing again after the reconnect reads as the first failure too: calls sent at once
    (tables loaded together) fail in any order, and a run reports its store once.
    """

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._store = _client(self.url)
        self.requests = 0  # requests this client has sent, for the run's figures
        self.down: str | None = None  # why the store is taken as unreachable
        self._was_down: str | None = None  # why it was, before the last reconnect
        # raises when this process may no longer write (see warehouse.leases.Leases.check)
        self.fence: Callable[[], None] | None = None

    def __repr__(self) -> str:
        return f"ObjectStore({self.url!r})"

    @property
    def local_root(self) -> Path | None:
        """The directory of a ``file://`` store, None for a remote one."""
        return Path(self.url.removeprefix("file://")) if self.url.startswith("file://") else None

    def reconnect(self) -> None:
        """Call the store again after a failure (the run's last attempt to publish)."""
        self._was_down, self.down = self.down or self._was_down, None

    def mark_down(self, message: str) -> str:
        """Take the store as unreachable for ``message`` (see the class); the line to report."""
        if self.down is None:
            self.down = self._was_down or message
        return self.down

    def guard(self) -> None:
        """Raise unless this process may write now: the store answers and no lease is lost."""
        if self.down is not None:
            raise ObjectStoreError(self.down)
        if self.fence is not None:
            self.fence()

    def _call(self, what: str, key: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        if self.down is not None:
            raise ObjectStoreError(self.down)
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
            message = (
                f"{what} {self.url}/{key} failed ({first_line(exc)}); check the storage URL, "
                "that the bucket exists and that the credentials may read and write it"
            )
            if not answered(exc):
                message = self.mark_down(message)
            raise ObjectStoreError(message) from None

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write ``data`` to ``key``."""
        import obstore

        self.guard()
        self._call("writing", key, obstore.put, key, data)

    def create(self, key: str, data: bytes) -> dict[str, str] | None:
        """Write ``data`` to ``key`` only if absent: its version, or None when it exists."""
        import obstore
        from obstore.exceptions import AlreadyExistsError

        if self.local_root is not None:
            return localstore.create(self.local_root / key, data)
        try:
            done = self._call("writing", key, obstore.put, key, data, mode="create")
        except AlreadyExistsError:
            return None
        return _version(done)

    def replace(self, key: str, data: bytes, version: dict[str, str]) -> dict[str, str] | None:
        """Replace ``key`` only if it is still at ``version``: the new version, or None when
        it moved on or went away."""
        import obstore
        from obstore.exceptions import NotFoundError, PreconditionError

        if self.local_root is not None:
            return localstore.replace(self.local_root / key, data, version)
        try:
            done = self._call("replacing", key, obstore.put, key, data, mode=version)
        except (PreconditionError, NotFoundError):
            return None
        return _version(done)

    def read(self, key: str) -> tuple[bytes, dict[str, str], datetime] | None:
        """The object at ``key`` with its version and the store's time of its last change,
        or None when there is none."""
        import obstore
        from obstore.exceptions import NotFoundError

        if self.local_root is not None:
            return localstore.read(self.local_root / key)
        try:
            result = self._call("reading", key, obstore.get, key)
        except (NotFoundError, FileNotFoundError):
            return None
        return bytes(result.bytes()), _version(result.meta), result.meta["last_modified"]

    def now(self, prefix: str) -> datetime:
        """The store's clock: the modification time of an object written under ``prefix``."""
        import obstore

        if self.local_root is not None:
            return localstore.now(self.local_root / prefix)
        key = f"{prefix}/.clock-{uuid.uuid4().hex}"
        self._call("writing", key, obstore.put, key, b"")
        try:
            return self._call("reading", key, obstore.head, key)["last_modified"]
        finally:
            self.delete(key)

    def etag(self, key: str) -> str | None:
        """The ETag of the object at ``key`` (one HEAD), or None when there is none."""
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            return self._call("reading", key, obstore.head, key).get("e_tag")
        except (NotFoundError, FileNotFoundError):
            return None

    def put_file(self, key: str, path: Path) -> None:
        """Upload the file at ``path`` to ``key`` (in parts when large)."""
        with open(path, "rb") as source:
            self.put_reader(key, source)

    def put_reader(self, key: str, source: BinaryIO) -> None:
        """Upload what is left to read of the open binary file ``source`` (in parts when large)."""
        import obstore

        self.guard()
        self._call("uploading", key, obstore.put, key, source, chunk_size=_PART_BYTES)

    def get_bytes(self, key: str) -> bytes | None:
        """The object at ``key``, or None when there is none."""
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            return bytes(self._call("reading", key, obstore.get, key).bytes())
        except (NotFoundError, FileNotFoundError):
            return None

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

        self.guard()
        with contextlib.suppress(NotFoundError, FileNotFoundError):
            self._call("removing", key, obstore.delete, key)

    def list(self, prefix: str) -> Iterator[str]:
        """Keys under ``prefix``."""
        import obstore

        stream = self._call("listing", prefix, obstore.list, prefix)
        for batch in stream:
            for meta in batch:
                yield meta["path"]

    def entries(self, prefix: str, *, after: str) -> list[tuple[str, str | None]]:
        """Keys under ``prefix`` that sort after the key ``after``, each with its ETag."""
        import obstore

        found = self._call("listing", prefix, obstore.list, prefix, offset=after).collect()
        return [(meta["path"], meta.get("e_tag")) for meta in found]


def _version(meta: Mapping[str, Any]) -> dict[str, str]:
    """The update mode that replaces exactly the object ``meta`` describes."""
    return {k: str(meta[k]) for k in ("e_tag", "version") if meta.get(k) is not None}


def first_line(exc: BaseException) -> str:
    """The first line of an error, cut short: the libraries' errors run over many lines."""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def answered(exc: BaseException) -> bool:
    """Whether the store answered (no such object, no permission): it is there, then."""
    from obstore.exceptions import NotFoundError, PermissionDeniedError, UnauthenticatedError

    told = NotFoundError | PermissionDeniedError | UnauthenticatedError
    return isinstance(exc, told | FileNotFoundError | PermissionError)
