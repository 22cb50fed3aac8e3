"""Store URLs: the accepted forms, and a clear error for everything else."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import streamforge as sf
from conftest import postgres_dsn


@pytest.mark.parametrize("url", ["mysql://u:p@host/db", "/tmp/file.db", "sqlite", "http://x"])
def test_unsupported_forms_name_the_accepted_ones(url: str) -> None:
    with pytest.raises(sf.StoreURLError, match="accepted forms: sqlite:PATH"):
        sf.connect(url)


def test_passwords_are_never_echoed() -> None:
    with pytest.raises(sf.StoreURLError) as info:
        sf.connect("mysql://user:hunter2@db:3306/x")
    assert "hunter2" not in str(info.value) and "***" in str(info.value)


def test_arango_is_refused_with_a_reason() -> None:
    with pytest.raises(sf.StoreURLError, match="ArangoDB") as info:
        sf.connect("arango://root:secret@127.0.0.1:8529/streamforge")
    assert "secret" not in str(info.value)


@pytest.mark.parametrize("url", ["", "  ", "sqlite:", "sqlite::memory:"])
def test_empty_and_private_urls(url: str) -> None:
    with pytest.raises(sf.StoreURLError):
        sf.connect(url)


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nothing.db"
    with pytest.raises(sf.StoreConnectionError, match="no StreamForge store"):
        sf.connect(f"sqlite:{path}")
    assert not path.exists()


def test_a_database_without_streamforge_tables(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(sf.StoreSchemaError, match="no StreamForge tables"):
        sf.connect(f"sqlite:{path}")


def test_sf_store_is_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SF_STORE", f"sqlite:{tmp_path / 'absent.db'}")
    with pytest.raises(sf.StoreConnectionError, match="absent.db"):
        sf.connect()
    monkeypatch.setenv("SF_STORE", "bogus")
    with pytest.raises(sf.StoreURLError, match="bogus"):
        sf.connect()


def test_default_store_when_nothing_is_set(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.delenv("SF_STORE", raising=False)
    monkeypatch.delenv("POSTGRES_DSN", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(sf.StoreConnectionError, match="data/streamforge.db"):
        sf.connect()


def test_postgres_bad_password_is_a_clear_error_without_the_password() -> None:
    dsn = postgres_dsn()
    user, rest = dsn.split("://", 1)[1].split("@", 1)
    bad = f"postgresql://{user.split(':')[0]}:wrong-Pa55word@{rest}"
    with pytest.raises(sf.StoreConnectionError, match="cannot connect") as info:
        sf.connect(bad)
    assert "wrong-Pa55word" not in str(info.value)


def test_postgres_unreachable_server() -> None:
    with pytest.raises(sf.StoreConnectionError, match="cannot connect"):
        sf.connect("postgresql://u:p@127.0.0.1:1/none?connect_timeout=2")
