# Production image: the server extra on a slim Python, CPU torch from the constraints lock.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    MEMOS_HOME=/data MEMOS_HOST=0.0.0.0
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY memcube memcube
COPY memos memos
COPY api api
COPY workers workers
COPY migrations migrations
# CPU torch first (the default index would pull the CUDA build, several GB), then the rest from the lock.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --no-cache-dir --index-url "$TORCH_INDEX" torch==2.13.0 \
 && pip install --no-cache-dir -c constraints.txt '.[server]'
RUN useradd --create-home memos && mkdir -p /data && chown memos /data
USER memos
EXPOSE 8000
CMD ["memos", "serve"]
