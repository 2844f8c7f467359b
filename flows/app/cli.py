"""The `t212-etl` entry point: parsing, logging, dispatch to the command, one-line errors
and exit codes (the commands live in ``flows.app.commands``)."""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from pathlib import Path

from extractors.errors import ConfigurationError
from flows.app.commands import EXIT_CONFIG, EXIT_FAILED, UserError, command
from flows.app.output import ShownFormatter, shown
from flows.app.parser import build_parser
from flows.pipeline.settings import SettingsError


class _OwnRecordsOnly(logging.Filter):
    """Keep Prefect's records off the console: the CLI prints the run's outcome itself,
    and Prefect still ships its records to its API."""

    def __init__(self) -> None:
        super().__init__()
        # some Prefect services log under their class name ("Still processing items" at
        # exit): known by the file they come from; found without importing Prefect
        spec = importlib.util.find_spec("prefect")
        places = spec.submodule_search_locations if spec else None
        self._prefect_dir = str(Path(places[0])) + os.sep if places else None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("prefect"):
            return False
        return not (self._prefect_dir and record.pathname.startswith(self._prefect_dir))


def _configure_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler:  # the console's, not a capturing one
            handler.setFormatter(ShownFormatter("%(asctime)s %(levelname)s %(message)s"))
        if not debug:
            handler.addFilter(_OwnRecordsOnly())
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `t212-etl`; returns the exit code."""
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    _configure_logging(debug)
    import duckdb

    from warehouse import MemoryLimitInvalid, WarehouseLocked, WarehouseMissing
    from warehouse.leases import AccountBusy
    from warehouse.objectstore import ObjectStoreError

    try:
        return command(args.command)(args)
    except KeyboardInterrupt:
        print(
            "t212-etl: interrupted; committed resources stay, the next run resumes", file=sys.stderr
        )
        return EXIT_FAILED
    except (
        UserError,
        SettingsError,
        ConfigurationError,
        WarehouseLocked,
        WarehouseMissing,
        MemoryLimitInvalid,
        AccountBusy,
    ) as exc:
        if debug:
            raise
        print(f"t212-etl: {shown(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    except ObjectStoreError as exc:  # worded for the store already, with what to check
        if debug:
            raise
        print(f"t212-etl: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        if debug:
            raise
        print(
            f"t212-etl: {exc.strerror or exc} ({exc.filename or 'data directory'}): check "
            "that the data directory is writable and the disk has room",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except duckdb.Error as exc:
        if debug:
            raise
        print(
            f"t212-etl: the warehouse could not be read or written ({str(exc).splitlines()[0]}): "
            "check the disk and the data directory; committed data is safe",
            file=sys.stderr,
        )
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
