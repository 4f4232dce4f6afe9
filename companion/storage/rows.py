"""Small helpers shared by repositories whose records are flat dataclasses."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import aiosqlite

R = TypeVar("R")


def columns(record_type: type[Any]) -> str:
    return ", ".join(f.name for f in dataclasses.fields(record_type))


def insert_sql(table: str, record_type: type[Any]) -> str:
    names = [f.name for f in dataclasses.fields(record_type)]
    return (f"INSERT INTO {table} ({', '.join(names)}) "
            f"VALUES ({', '.join('?' for _ in names)})")


def values(record: Any) -> tuple[Any, ...]:
    return dataclasses.astuple(record)


async def fetch_all(conn: aiosqlite.Connection, record_type: type[R], sql: str,
                    params: tuple[Any, ...] = ()) -> list[R]:
    async with conn.execute(sql, params) as cur:
        return [record_type(*tuple(row)) for row in await cur.fetchall()]


async def fetch_one(conn: aiosqlite.Connection, record_type: type[R], sql: str,
                    params: tuple[Any, ...] = ()) -> R | None:
    found = await fetch_all(conn, record_type, sql, params)
    return found[0] if found else None
