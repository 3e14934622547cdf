"""Run a hand-written SQL script statement by statement (asyncpg prepares one statement at a time)."""

from __future__ import annotations

from alembic import op


def statements(script: str) -> list[str]:
    """Split on ``;`` at the end of a line, leaving ``$$``-quoted bodies whole."""
    result: list[str] = []
    current: list[str] = []
    in_body = False
    for line in script.splitlines():
        if line.count("$$") % 2 == 1:
            in_body = not in_body
        current.append(line)
        if not in_body and line.rstrip().endswith(";"):
            statement = "\n".join(current).strip()
            if statement.rstrip(";").strip():
                result.append(statement)
            current = []
    tail = "\n".join(current).strip()
    if tail:
        result.append(tail)
    return result


def run(script: str) -> None:
    for statement in statements(script):
        op.execute(statement)
