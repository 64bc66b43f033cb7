# syntax=docker/dockerfile:1
#
# One image for every Nexus Mesh component; the entrypoint is the `nexus` command:
#   nexus gateway | nexus service search | nexus topics ensure | ...
# It runs as the unprivileged user 10001 and needs nothing writable but /tmp, so it runs with
# a read-only root filesystem. No Java or Kafka inside: brokers are always external (or the
# chart's development broker, from the official apache/kafka image).
#
# Targets: `runtime` (the default, last stage) for every environment; `dev` adds a file
# watcher and writable sources for skaffold's file sync (skaffold dev -p dev).

ARG PYTHON_VERSION=3.11

# --- builder: wheels of the project and all its dependencies --------------------------------
FROM python:${PYTHON_VERSION}-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY schemas ./schemas
COPY services ./services
# The versions the test suite passed with (constraints.txt, written by `make lock`).
RUN pip wheel --constraint constraints.txt --wheel-dir /wheels .

# --- runtime: the wheels installed into a virtualenv, nothing else ---------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN groupadd --system --gid 10001 nexus \
 && useradd --system --uid 10001 --gid nexus --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin nexus
# The wheels are bind-mounted from the builder, so they never become a layer of this image.
# pip compiles the modules at install, so nothing needs writing at run time.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-index --find-links /wheels nexus-mesh
LABEL org.opencontainers.image.title="nexus-mesh" \
      org.opencontainers.image.description="Nexus Mesh: gateway, services and the nexus command" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /tmp
USER 10001:10001
EXPOSE 8080 8081
ENTRYPOINT ["nexus"]
CMD ["--help"]

# --- dev: sources under /app (first on the path) that skaffold can sync, and watchfiles ------
FROM runtime AS dev
USER 0:0
# From the lock like the rest of the image: a new watchfiles (or anyio) release must not
# change what `skaffold dev` runs without `make lock`.
RUN --mount=type=bind,from=builder,source=/src/constraints.txt,target=/constraints.txt \
    /opt/venv/bin/pip install --constraint /constraints.txt watchfiles
COPY --chown=10001:10001 services /app/services
COPY --chown=10001:10001 schemas /app/schemas
ENV PYTHONPATH=/app/services
WORKDIR /app
USER 10001:10001

# The default target is the production image.
FROM runtime
