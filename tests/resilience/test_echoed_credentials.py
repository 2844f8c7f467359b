"""A proxy that echoes the request headers into its error page: the credentials reach nothing."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from urllib.parse import quote

import pytest

from flows.pipeline.run import RunOptions, run_export
from sandbox import DEMO_KEY, DEMO_SECRET, Sandbox
from tests.flows.harness import FAST_RETRY, run_cli, sandbox_config, settings_for
from tests.flows.test_secrets import artifacts_text, file_bytes, prefect_database_files
from warehouse import connect_readonly

DIVS = "/api/v0/equity/history/dividends"


def forbidden() -> set[str]:
    """Every run of 12 characters of the demo key pair, its Basic token, URL-encoded too."""
    token = base64.b64encode(f"{DEMO_KEY}:{DEMO_SECRET}".encode()).decode()
    forms = [DEMO_KEY, DEMO_SECRET, token, quote(token, safe="")]
    return {form[i : i + 12] for form in forms for i in range(len(form) - 11)}


def errors_stored(data_dir: Path) -> list[str]:
    con = connect_readonly(data_dir)
    try:
        rows = con.execute("SELECT error FROM runs UNION ALL SELECT error FROM run_resources")
        return [str(row[0]) for row in rows.fetchall()]
    finally:
        con.close()


def test_echoed_headers_reach_no_message_log_or_run_log(tmp_path, caplog):
    with Sandbox(sandbox_config()) as sb:
        sb.inject("echo_headers", path=DIVS, times=100)
        for name in ("httpx", "httpcore"):  # their records quote the echoing headers
            caplog.set_level(logging.DEBUG, logger=name)
        with caplog.at_level(logging.DEBUG):
            summary = run_export(
                settings_for(sb, tmp_path),
                RunOptions(only=["dividends"], client_options={"retry": FAST_RETRY}),
            )
    assert summary.exit_code == 1
    (error,) = summary.errors()
    assert "HTTP 503" in error and "***" in error and "\n" not in error
    stored = errors_stored(tmp_path)
    assert any("HTTP 503" in e for e in stored)
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    for text in (error, caplog.text, *stored):
        assert not {piece for piece in forbidden() if piece in text}, text
    # and the suite-wide scan (tests/conftest.py) finds no credential in tmp_path's files


@pytest.mark.xdist_group("prefect")
def test_echoed_headers_reach_no_output_artifact_or_prefect_state(prefect_harness, tmp_path):
    env = {"T212_API_KEY": DEMO_KEY, "T212_API_SECRET": DEMO_SECRET}
    data_dir = tmp_path / "data"
    with Sandbox(sandbox_config()) as sb:
        sb.inject("echo_headers", path=DIVS, times=100)
        env["T212_BASE_URL"] = sb.base_url
        code, out, err = run_cli(
            "run", "--only", "dividends", "--debug", "--data-dir", str(data_dir), env=env,
            cwd=tmp_path,
        )  # fmt: skip
    assert code == 1 and "HTTP 503" in err
    places = [out, err, artifacts_text(), *errors_stored(data_dir)]
    places += [data.decode("utf-8", "replace") for _, data in file_bytes(data_dir)]
    places += [data.decode("utf-8", "replace") for _, data in prefect_database_files()]
    for text in places:
        assert not {piece for piece in forbidden() if piece in text}, text[:2000]
