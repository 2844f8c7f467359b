"""Settings from the environment, .env and t212-etl.toml, and their refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from extractors.errors import ConfigurationError
from flows.pipeline.settings import SettingsError, load_settings, read_dotenv


def test_single_account_from_environment(tmp_path: Path):
    env = {"T212_API_KEY": "k1", "T212_API_SECRET": "s1", "T212_ENV": "demo"}
    settings = load_settings(environ=env, cwd=tmp_path)
    (account,) = settings.accounts
    assert (account.name, account.env) == ("default", "demo")
    creds = account.credentials(settings.environ)
    assert (creds.key, creds.secret) == ("k1", "s1")
    assert settings.data_dir == Path("data")


def test_dotenv_is_read_and_environment_wins(tmp_path: Path):
    (tmp_path / ".env").write_text(
        "# comment\nexport T212_API_KEY='from-file'\nT212_API_SECRET=\"s\"\nT212_DATA_DIR=x\n"
    )
    settings = load_settings(environ={"T212_DATA_DIR": "y"}, cwd=tmp_path)
    creds = settings.accounts[0].credentials(settings.environ)
    assert (creds.key, creds.secret) == ("from-file", "s")
    assert settings.data_dir == Path("y")
    assert read_dotenv(tmp_path / "missing") == {}


def test_missing_key_names_the_variable(tmp_path: Path):
    settings = load_settings(environ={}, cwd=tmp_path)
    with pytest.raises(SettingsError, match="T212_API_KEY"):
        settings.accounts[0].credentials(settings.environ)


def test_clear_text_base_url_is_refused(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="clear text"):
        load_settings(environ={"T212_BASE_URL": "http://example.org"}, cwd=tmp_path)


def test_several_accounts_from_toml(tmp_path: Path):
    (tmp_path / "t212-etl.toml").write_text(
        """
data_dir = "wh"
[export]
reference_max_age_hours = 6
[[accounts]]
name = "invest"
env = "live"
key_env = "INVEST_KEY"
secret_env = "INVEST_SECRET"
[[accounts]]
name = "isa"
env = "demo"
key_env = "ISA_KEY"
secret_env = "ISA_SECRET"
"""
    )
    env = {"INVEST_KEY": "a", "INVEST_SECRET": "b", "ISA_KEY": "c", "ISA_SECRET": "d"}
    settings = load_settings(environ=env, cwd=tmp_path)
    assert [a.name for a in settings.accounts] == ["invest", "isa"]
    assert settings.account("isa").credentials(env).key == "c"
    assert settings.data_dir == Path("wh") and settings.reference_max_age_hours == 6
    with pytest.raises(SettingsError, match="configured accounts: invest, isa"):
        settings.account("nope")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('[[accounts]]\nname="a"\nkey="AbC"\nsecret_env="S"', "literal secret"),
        ('[[accounts]]\nname="a"\nkey_env="K"', "key and secret come from"),
        ('[[accounts]]\nname="../a"\nkey_env="K"\nsecret_env="S"', "needs a name"),
        ('[[accounts]]\nname="a"\nkey_env="K"\nsecret_env="S"\nfoo=1', "unknown setting"),
        ("accounts = [", "not valid TOML"),
    ],
)
def test_bad_config_files_are_refused_with_one_line(tmp_path: Path, body, fragment):
    (tmp_path / "t212-etl.toml").write_text(body)
    with pytest.raises(SettingsError, match=fragment) as err:
        load_settings(environ={}, cwd=tmp_path)
    assert "\n" not in str(err.value)
    assert "AbC" not in str(err.value)


def test_explicit_missing_config_file(tmp_path: Path):
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(environ={}, cwd=tmp_path, config=tmp_path / "nope.toml")


def _readme_dotenv_example() -> str:
    """The ``.env`` example of the README's quick start, verbatim."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index("```sh\n   T212_API_KEY=") + len("```sh\n")
    block = readme[start : readme.index("```", start)]
    return "\n".join(line.strip() for line in block.splitlines()) + "\n"


def test_the_readme_dotenv_example_reads_as_written(tmp_path: Path):
    example = _readme_dotenv_example()
    assert "# or demo" in example, "the README's example lost its inline comment"
    (tmp_path / ".env").write_text(example)
    settings = load_settings(environ={}, cwd=tmp_path)
    (account,) = settings.accounts
    assert account.env == "live"
    creds = account.credentials(settings.environ)
    assert (creds.key, creds.secret) == ("...", "...")


def test_dotenv_quoting_and_comments_follow_the_usual_rules(tmp_path: Path):
    (tmp_path / ".env").write_text(
        "T212_API_KEY='a # not a comment'  # a comment\n"
        'T212_API_SECRET="s=1"\n'
        "T212_DATA_DIR=dir#1\n"
        "export T212_ENV=demo # practice\n"
    )
    env = read_dotenv(tmp_path / ".env")
    assert env["T212_API_KEY"] == "a # not a comment"
    assert env["T212_API_SECRET"] == "s=1"
    assert env["T212_ENV"] == "demo"
    assert env["T212_DATA_DIR"] == "dir#1"


@pytest.mark.parametrize(
    ("toml", "env", "expected"),
    [
        ("", {}, None),
        ('base_currency = "gbp"\n', {}, "GBP"),
        ("", {"T212_BASE_CURRENCY": "EUR"}, "EUR"),
        ('base_currency = "USD"\n', {"T212_BASE_CURRENCY": "EUR"}, "USD"),
    ],
)
def test_base_currency_from_the_file_or_the_environment(tmp_path: Path, toml, env, expected):
    (tmp_path / "t212-etl.toml").write_text(toml)
    assert load_settings(environ=env, cwd=tmp_path).base_currency == expected


@pytest.mark.parametrize("value", ['"pounds"', '"GB"', "826", '"£"'])
def test_a_base_currency_that_is_no_code_is_refused_in_one_line(tmp_path: Path, value):
    (tmp_path / "t212-etl.toml").write_text(f"base_currency = {value}\n")
    with pytest.raises(SettingsError, match="three-letter currency code") as refused:
        load_settings(environ={}, cwd=tmp_path)
    assert "\n" not in str(refused.value)


def test_parallel_accounts_defaults_to_64_and_reads_the_export_table(tmp_path: Path):
    assert load_settings(environ={}, cwd=tmp_path).parallel_accounts == 64
    (tmp_path / "t212-etl.toml").write_text("[export]\nparallel_accounts = 3\n")
    assert load_settings(environ={}, cwd=tmp_path).parallel_accounts == 3


@pytest.mark.parametrize("value", ["0", "257", "-1", '"8"', "2.5", "true"])
def test_parallel_accounts_out_of_range_is_refused_in_one_line(tmp_path: Path, value):
    (tmp_path / "t212-etl.toml").write_text(f"[export]\nparallel_accounts = {value}\n")
    with pytest.raises(SettingsError, match="parallel_accounts must be from 1 to 256") as refused:
        load_settings(environ={}, cwd=tmp_path)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bucket/prefix", "s3://bucket/prefix"),
        ("s3://bucket/prefix/", "s3://bucket/prefix"),
        ("gs://bucket", "gs://bucket"),
        ("az://container/t212", "az://container/t212"),
        (
            "abfs://container@acct.dfs.core.windows.net/x",
            "abfs://container@acct.dfs.core.windows.net/x",
        ),
    ],
)
def test_storage_url_accepts_buckets_containers_and_local_paths(tmp_path: Path, url, expected):
    assert load_settings(environ={}, cwd=tmp_path, storage_url=url).storage_url == expected
    lake = tmp_path / "lake"
    lake.mkdir()
    local = load_settings(environ={}, cwd=tmp_path, storage_url=f"file://{lake}/")
    assert local.storage_url == f"file://{lake}"


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("file://relative/path", "absolute"),
        ("file://lake", "absolute"),
        ("file://./lake", "absolute"),
        ("file://localhost/srv/lake", "absolute"),
        ("file://{tmp}/missing", "does not exist"),
        ("file://{tmp}/a-file", "not a folder"),
    ],
)
def test_a_relative_or_missing_local_store_is_refused(tmp_path: Path, url, fragment):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(SettingsError, match=fragment) as refused:
        load_settings(environ={}, cwd=tmp_path, storage_url=url.format(tmp=tmp_path))
    assert "\n" not in str(refused.value)


def test_storage_url_from_the_argument_the_environment_or_the_file(tmp_path: Path):
    assert load_settings(environ={}, cwd=tmp_path).storage_url is None
    (tmp_path / "t212-etl.toml").write_text('storage_url = "gs://from-file"\n')
    assert load_settings(environ={}, cwd=tmp_path).storage_url == "gs://from-file"
    env = {"T212_STORAGE_URL": "s3://from-env"}
    assert load_settings(environ=env, cwd=tmp_path).storage_url == "s3://from-env"
    given = load_settings(environ=env, cwd=tmp_path, storage_url="az://given")
    assert given.storage_url == "az://given"


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("my-bucket/prefix", "must be a URL"),
        ("s3://", "is not supported"),
        ("http://example.org/bucket", "is not supported"),
        ("sig=hunter2&s3://bucket", "must be a URL"),
        ("s3://AKIA:hunter2@bucket/prefix", "must not carry credentials"),
        ("az://container/x?sv=2024&sig=hunter2", "must not carry credentials"),
        ("gs://bucket/x?token=hunter2", "must not carry credentials"),
    ],
)
def test_storage_url_refusals_never_echo_a_secret(tmp_path: Path, url, fragment):
    with pytest.raises(SettingsError, match=fragment) as refused:
        load_settings(environ={}, cwd=tmp_path, storage_url=url)
    message = str(refused.value)
    assert "hunter2" not in message and "AKIA" not in message and "\n" not in message


_TWO = """
[[accounts]]
name = "invest"
key_env = "K1"
secret_env = "S1"

[[accounts]]
name = "isa"
key_env = "K2"
secret_env = "S2"
{wrapper}
"""


def test_each_account_declares_its_tax_wrapper(tmp_path: Path):
    (tmp_path / "t212-etl.toml").write_text(_TWO.format(wrapper='wrapper = "isa"'))
    settings = load_settings(environ={}, cwd=tmp_path)
    assert [a.wrapper for a in settings.accounts] == ["invest", "isa"]
    env = {"T212_WRAPPER": "isa"}
    assert load_settings(environ=env, cwd=tmp_path / "missing").accounts[0].wrapper == "isa"
    assert load_settings(environ={}, cwd=tmp_path / "missing").accounts[0].wrapper == "invest"


@pytest.mark.parametrize("value", ['"sipp"', '"ISA"', "1"])
def test_an_unknown_wrapper_is_refused_in_one_line(tmp_path: Path, value):
    (tmp_path / "t212-etl.toml").write_text(_TWO.format(wrapper=f"wrapper = {value}"))
    with pytest.raises(SettingsError, match='wrapper must be "invest" or "isa"') as caught:
        load_settings(environ={}, cwd=tmp_path)
    assert "\n" not in str(caught.value)
    with pytest.raises(SettingsError, match="T212_WRAPPER: wrapper must be"):
        load_settings(environ={"T212_WRAPPER": "lisa"}, cwd=tmp_path / "missing")


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('overlap_days = "two"', "overlap_days must be a number of days"),
        ("reference_max_age_hours = []", "reference_max_age_hours must be a number of hours"),
    ],
)
def test_an_export_number_that_is_no_number_is_refused_in_one_line(tmp_path: Path, line, fragment):
    (tmp_path / "t212-etl.toml").write_text(f"[export]\n{line}\n")
    with pytest.raises(SettingsError, match=fragment) as refused:
        load_settings(environ={}, cwd=tmp_path)
    assert "\n" not in str(refused.value)
