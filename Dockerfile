# Conveyor images. Build one with its target:
#
#   docker build --target api    -t conveyor-api .
#   docker build --target worker -t conveyor-worker .
#
# or let docker-compose.yml build both. Works with BuildKit and the legacy
# builder (no cache mounts, no heredocs).

# ------------------------------------------------------------------ frontend
FROM node:20-bookworm-slim AS frontend
WORKDIR /app/frontend
# `frontend*` copies the contents of frontend/ when it exists and nothing when
# it does not (Cargo.toml is there only so the COPY always has a source); the
# api then serves a page that says the dashboard was not built.
COPY Cargo.toml frontend* ./
RUN if [ -f package.json ]; then \
        if [ -f package-lock.json ]; then npm ci; else npm install; fi \
        && npm run build && test -f dist/index.html; \
    else mkdir -p dist; fi

# ------------------------------------------------------------------- builder
FROM rust:1-bookworm AS builder
WORKDIR /src
ENV CARGO_TERM_COLOR=never

# Dependency cache layer: the manifests with stub sources, built once. If the
# stubs ever stop matching the manifests this step only loses its caching
# value; the real build below still builds everything from the real sources.
COPY Cargo.toml Cargo.lock ./
COPY shared/Cargo.toml shared/Cargo.toml
COPY api/Cargo.toml api/Cargo.toml
COPY worker/Cargo.toml worker/Cargo.toml
RUN mkdir -p shared/src api/src worker/src \
    && touch shared/src/lib.rs api/src/lib.rs worker/src/lib.rs \
    && printf 'fn main() {}\n' > api/src/main.rs \
    && printf 'fn main() {}\n' > worker/src/main.rs \
    && (cargo build --release --locked -p conveyor-api -p conveyor-worker \
        || echo "note: dependency pre-build failed; the full build below builds everything") \
    && rm -rf shared/src api/src worker/src

# The real sources (everything not in .dockerignore, so that files included at
# compile time, such as migrations/ for sqlx::migrate!, are present).
COPY . .
# COPY keeps the files' old modification times, which can be older than the
# stub build: forget the workspace crates' build state so they are rebuilt.
RUN find shared api worker -name '*.rs' -exec touch {} + \
    && rm -rf target/release/.fingerprint/conveyor-* \
              target/release/deps/conveyor_* \
              target/release/deps/libconveyor_* \
    && cargo build --release --locked -p conveyor-api -p conveyor-worker \
    && install -D -m 0755 target/release/conveyor-api /out/conveyor-api \
    && install -D -m 0755 target/release/conveyor-worker /out/conveyor-worker

# ------------------------------------------------------------------- runtime
FROM debian:bookworm-slim AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 conveyor \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin conveyor \
    && mkdir -p /app \
    && chown conveyor:conveyor /app
WORKDIR /app

# ----------------------------------------------------------------------- api
FROM runtime AS api
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=builder /out/conveyor-api /usr/local/bin/conveyor-api
COPY --from=frontend /app/frontend/dist /app/frontend/dist
ENV LISTEN_ADDR=0.0.0.0:8080 \
    FRONTEND_DIR=/app/frontend/dist
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/readyz"]
CMD ["conveyor-api"]

# -------------------------------------------------------------------- worker
FROM runtime AS worker
COPY --from=builder /out/conveyor-worker /usr/local/bin/conveyor-worker
ENV WORKER_HEARTBEAT_FILE=/tmp/conveyor-worker.alive \
    WORKER_METRICS_ADDR=0.0.0.0:9464
USER 10001:10001
# /metrics (Prometheus)
EXPOSE 9464
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["conveyor-worker", "healthcheck"]
CMD ["conveyor-worker"]
