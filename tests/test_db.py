"""The pool hands out clean connections even though release skips the RESET ALL round trip."""

from __future__ import annotations

import pytest

from api.db import create_pool, unit_of_work
from api.settings import Settings


async def test_a_failed_unit_of_work_leaves_no_open_transaction(settings: Settings) -> None:
    pool = await create_pool(settings, min_size=1, max_size=1)

    async def failing_request() -> None:
        async with unit_of_work(pool, transactional=True, acquire_timeout=5) as uow:
            await uow.conn.execute("CREATE TEMP TABLE scratch (x int) ON COMMIT DROP")
            raise RuntimeError("handler failed")

    try:
        with pytest.raises(RuntimeError):
            await failing_request()
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('pg_temp.scratch')") is None
            assert await conn.fetchval("SELECT current_setting('transaction_isolation')") == "read committed"
    finally:
        await pool.close()


async def test_json_travels_as_python_values(settings: Settings) -> None:
    pool = await create_pool(settings, min_size=1, max_size=1)
    try:
        assert await pool.fetchval("SELECT $1::jsonb", {"a": [1, "x"]}) == {"a": [1, "x"]}
    finally:
        await pool.close()
