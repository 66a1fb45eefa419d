import pytest

from config import DEFAULT_SECRET_KEY, ConfigError, Settings
from db.session import normalise_url


def test_production_refuses_default_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings(env="production", secret_key=DEFAULT_SECRET_KEY, database_url="postgresql://x/y").validate()


def test_production_refuses_embedded_database():
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        Settings(env="production", secret_key="k" * 40).validate()


def test_from_env_reads_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("SCOPE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SCOPE_CONFIDENCE_THRESHOLD", "0.7")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    s = Settings.from_env()
    assert s.data_dir == tmp_path and s.confidence_threshold == 0.7 and s.database_url == "postgresql://u@h/db"
    assert s.pgdata_dir == tmp_path / "pgdata"


def test_bad_threshold_is_a_config_error(monkeypatch):
    monkeypatch.setenv("SCOPE_CONFIDENCE_THRESHOLD", "abc")
    with pytest.raises(ConfigError):
        Settings.from_env()


@pytest.mark.parametrize("url", ["postgresql://u@h/d", "postgres://u@h/d", "postgresql+psycopg2://u@h/d"])
def test_urls_use_psycopg3(url):
    assert normalise_url(url) == "postgresql+psycopg://u@h/d"


def test_sqlite_is_refused():
    with pytest.raises(ValueError):
        normalise_url("sqlite:///x.db")
