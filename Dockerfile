# syntax=docker/dockerfile:1
# Build stage: wheels for the pinned dependencies.
FROM python:3.11-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends build-essential && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt

# Runtime stage: no compilers, a non-root user, gunicorn.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 SCOPE_ENV=production SCOPE_HOST=0.0.0.0 SCOPE_PORT=8050
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 curl && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 scope
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
WORKDIR /app
COPY --chown=scope:scope . .
RUN pip install --no-cache-dir --no-deps -e . 
USER scope
EXPOSE 8050
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8050/healthz || exit 1
# DATABASE_URL and SECRET_KEY must be set; migrations run with `scope db upgrade`.
# deploy/gunicorn.conf.py sums the Prometheus request metrics of all workers (see README, "Monitoring").
ENV PROMETHEUS_MULTIPROC_DIR=/tmp/scope-metrics
CMD ["gunicorn", "app:server", "-c", "deploy/gunicorn.conf.py", "--bind", "0.0.0.0:8050", "--workers", "2", \
     "--worker-class", "gthread", "--threads", "4", "--timeout", "120", "--access-logfile", "-"]
