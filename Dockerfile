# One image for every Attain process; compose picks the command (API, worker, or init).
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p shared services && touch shared/__init__.py services/__init__.py \
    && pip install . && pip uninstall -y attain

# The code runs from /app (python -m ..., uvicorn's app dir), so migrations are found beside it.
COPY shared ./shared
COPY services ./services
# Only the topic bootstrap of scripts/: the rest drives local runs through devtools/, not shipped.
COPY scripts/__init__.py scripts/infra.py ./scripts/
RUN useradd --system --uid 10001 attain
USER attain

EXPOSE 8000
# Overridden per service in docker-compose.yml.
# The serving limits of shared/serving.py (UVICORN_FLAGS) on every API command.
CMD ["uvicorn", "services.goals.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", "--http", "shared.serving:HeadTimeoutH11Protocol", "--h11-max-incomplete-event-size", "16384", "--timeout-keep-alive", "5", "--limit-concurrency", "200", "--no-server-header", "--timeout-graceful-shutdown", "1"]
