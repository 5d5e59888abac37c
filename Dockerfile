# Production image of MemOS: the API, workers, beat and `memos migrate` all run from it (docker-compose.yml).
# Two stages: the build stage installs CPU torch and the server extra into a virtualenv; the runtime stage copies
# only that virtualenv and the code onto a fresh slim Python, and runs as an unprivileged user.

# ---------------------------------------------------------------- build
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first (a layer that survives code changes): CPU torch from its own index (the default index
# would pull the CUDA build, several GB), then everything else from the lock.
COPY pyproject.toml constraints.txt README.md ./
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --index-url "$TORCH_INDEX" torch==2.13.0
COPY memcube memcube
COPY memos memos
COPY api api
COPY workers workers
COPY migrations migrations
RUN pip install -c constraints.txt '.[server]'

# ---------------------------------------------------------------- runtime
FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    MEMOS_HOME=/data MEMOS_HOST=0.0.0.0 MEMOS_EMBEDDING_CACHE_DIR=/cache/embedding MEMOS_LOG_FORMAT=json
# Its own uid (not root); the directories the named volumes mount on belong to it, so fresh volumes do too.
RUN useradd --create-home --uid 10001 memos \
 && mkdir -p /data/blobs /cache/embedding \
 && chown -R memos:memos /data /cache
# The code is installed in the virtualenv (migrations and the dashboard's files included as package data).
COPY --from=build /opt/venv /opt/venv
WORKDIR /home/memos
USER memos
EXPOSE 8000 9808
CMD ["memos", "serve"]
