# One image, two commands: the API (default) and the worker (`python -m workers`).
# Production runs it against external PostgreSQL and Redis; `python -m api migrate` applies migrations.
# SCOPEKEEPER_ENV=production: WEBHOOK_SECRET_KEYS must be given at run time (API, worker and migrate).

FROM python:3.11-slim-bookworm AS build
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SCOPEKEEPER_ENV=production
RUN groupadd --system --gid 10001 scopekeeper \
    && useradd --system --uid 10001 --gid scopekeeper --home-dir /app --shell /usr/sbin/nologin scopekeeper
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY alembic.ini ./
COPY api/ ./api/
COPY workers/ ./workers/
COPY migrations/ ./migrations/
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
CMD ["uvicorn", "--factory", "api.asgi:build_app", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--no-access-log"]
