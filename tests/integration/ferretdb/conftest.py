"""Fixtures of the tests of MongoDB's single-document guarantees and index use on the database
the suite runs against: the local FerretDB build (the one `make run` uses) or MongoDB
(``MONGODB_URL``)."""

from __future__ import annotations

import asyncio

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from graceperiod.runtime.mongo import Document


@pytest.fixture
async def db(mongo: AsyncMongoClient[Document], db_prefix: str) -> AsyncDatabase[Document]:
    """This test's database, on a client whose pool already holds 100 open connections (so
    racing calls start together instead of waiting for connections to be made)."""
    await asyncio.gather(*(mongo.admin.command("ping") for _ in range(100)))
    return mongo[f"{db_prefix}_guarantees"]


@pytest.fixture
async def ferretdb(mongo: AsyncMongoClient[Document]) -> bool:
    """True on FerretDB (whose ``explain`` has its own shape), False on MongoDB."""
    info = await mongo.admin.command("buildInfo")
    return "ferretdbVersion" in info
