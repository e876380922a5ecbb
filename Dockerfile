# The `homecare` binary in a small runtime image. One image serves every role:
#   docker run IMAGE migrate | worker | api | up | demo
# (docker-compose.yml runs `migrate` once, then N workers and the API.)
#
# Build: docker build -t homecare .
# BuildKit (the default builder of current Docker) keeps the cargo registry and
# target directory in cache mounts, so a rebuild after a source change only
# recompiles the workspace crates.
#
# The whole directory is the build context; keep `target/` out of it (the
# project's `./dev` builds into ~/.cache/homecare-target) or add a .dockerignore.

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

##### Build #####
FROM ${RUST_IMAGE} AS build

# The Temporal SDK's build script compiles protobufs with protoc.
RUN apt-get update \
    && apt-get install -y --no-install-recommends protobuf-compiler \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Every workspace member, the migrations (embedded with sqlx::migrate!) and the
# lock file. Copying the tree keeps the build correct when a crate is added.
COPY . .

RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin homecare \
    && cp /src/target/release/homecare /usr/local/bin/homecare

##### Runtime #####
FROM ${RUNTIME_IMAGE}

# ca-certificates: TLS to Temporal Cloud / NATS with TLS (rustls reads the system roots).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 homecare \
    && useradd --system --uid 10001 --gid homecare --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin homecare

COPY --from=build /usr/local/bin/homecare /usr/local/bin/homecare

# Inside a container the API must listen on every interface; logs go to a pipeline.
ENV HOMECARE_API_ADDR=0.0.0.0:8080 \
    HOMECARE_LOG_FORMAT=json

EXPOSE 8080
USER 10001:10001

# The binary shuts down gracefully on Ctrl-C (SIGINT) only: a worker then finishes
# in-flight activities within its grace period. SIGTERM (Docker's default) would
# be ignored by PID 1 and end in a SIGKILL after the stop timeout.
STOPSIGNAL SIGINT

ENTRYPOINT ["homecare"]
CMD ["--help"]
