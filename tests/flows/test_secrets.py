"""No secret anywhere: run every command with sentinel credentials and search everything."""

from __future__ import annotations

import base64
import gzip
from pathlib import Path

import pytest

from sandbox import DEMO_ACCOUNT_ID, AccountSpec, Sandbox
from tests.flows.harness import SMALL, run_cli, sandbox_config

# one worker runs every test that uses the shared Prefect server, so it starts once
pytestmark = pytest.mark.xdist_group("prefect")

SENTINEL_KEY = "sentinelKEYq7Zx3Vw9Lm2Pk5Rt8Nb4"
SENTINEL_SECRET = "sentinelSECRETj6Hd2Fs9Qa1Wc7Ue3"
WRONG_SECRET = "sentinelWRONGSECRETy4Gt6Kp2Mz8"


def forbidden() -> list[bytes]:
    """Every form in which a credential could leak."""
    tokens = [SENTINEL_KEY, SENTINEL_SECRET, WRONG_SECRET]
    for secret in (SENTINEL_SECRET, WRONG_SECRET):
        tokens.append(base64.b64encode(f"{SENTINEL_KEY}:{secret}".encode()).decode())
    return [t.encode() for t in tokens]


def file_bytes(root: Path) -> list[tuple[Path, bytes]]:
    """Every file below ``root``, decompressed when gzipped."""
    out = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
            out.append((path, data))
    return out


def prefect_database_files() -> list[tuple[Path, bytes]]:
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    url = PREFECT_SERVER_DATABASE_CONNECTION_URL.value()
    folder = Path(url.split("///", 1)[1]).parent
    return file_bytes(folder)


def artifacts_text() -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return "\n".join(str(a.data) + str(a.description) for a in client.read_artifacts())


def test_no_credential_in_files_output_logs_artifacts_or_prefect(prefect_harness, tmp_path):
    account = AccountSpec(DEMO_ACCOUNT_ID, "EUR", SENTINEL_KEY, SENTINEL_SECRET, size=SMALL)
    data_dir = tmp_path / "data"
    outputs: list[str] = []
    with Sandbox(sandbox_config(accounts=(account,))) as sb:
        env = {"T212_API_KEY": SENTINEL_KEY, "T212_API_SECRET": SENTINEL_SECRET}
        env["T212_BASE_URL"] = sb.base_url
        common = ("--data-dir", str(data_dir))
        runs = [
            (("run", *common), env),
            (("run", "--debug", *common), {**env, "T212_API_SECRET": WRONG_SECRET}),
            (("run", *common), {**env, "T212_API_SECRET": WRONG_SECRET}),
        ]
        codes = []
        for args, run_env in runs:
            code, out, err = run_cli(*args, env=run_env, cwd=tmp_path)
            codes.append(code)
            outputs += [out, err]
        # a good run, then the wrong secret: a traceback with --debug, one line without
        assert codes[0] == 0 and codes[2] == 2 and "Traceback" in outputs[3]
        # a resource failure whose message is logged, stored in the run log and the artifact
        sb.set_key_scopes(SENTINEL_KEY, ["account", "portfolio", "metadata", "history:orders"])
        code, out, err = run_cli("run", "--debug", *common, env=env, cwd=tmp_path)
        outputs += [out, err]
        assert code == 1 and "history:dividends" in err
        for args in (("status", *common), ("sql", "SELECT * FROM runs", *common)):
            code, out, err = run_cli(*args, env=env, cwd=tmp_path)
            outputs += [out, err]
        code, out, err = run_cli("rebuild", *common, env=env, cwd=tmp_path)
        outputs += [out, err]
        assert code == 0
    places = [(Path("<output>"), text.encode()) for text in outputs]
    places += file_bytes(data_dir) + file_bytes(tmp_path / "data")
    places += prefect_database_files()
    places.append((Path("<artifacts>"), artifacts_text().encode()))
    assert len(places) > 40 and any(b"401" in data for _, data in places)
    for path, data in places:
        for token in forbidden():
            assert token not in data, f"credential found in {path}"


def test_a_failure_that_is_not_a_client_error_is_redacted_too():
    from extractors.redaction import Redactor
    from flows.pipeline.account import failed_result

    key, secret = "KEY-0123456789abcdef", "SECRET-fedcba9876543210"
    redactor = Redactor((key, secret))
    exc = ValueError(f"not a number: '{secret}' from {key}\nsecond line")
    message = failed_result("orders", 1, exc, redactor).error
    assert secret not in message and key not in message and "***" in message
    assert "\n" not in message
