# syntax=docker/dockerfile:1
# Palisade in a container: built with the Rust toolchain, run on Debian slim as a
# dedicated non-root user, with every piece of state in one volume.
#
#   docker build -t palisade .
#   docker volume create palisade-data
#   docker run --rm -v palisade-data:/var/lib/palisade palisade \
#       init --domain example.com --hostname mx.example.com
#   docker run -d --name palisade -v palisade-data:/var/lib/palisade \
#       -p 25:25 -p 465:465 -p 587:587 -p 443:443 palisade
#   docker exec palisade palisade --data /var/lib/palisade doctor
#
# The binary holds CAP_NET_BIND_SERVICE as a file capability (as the systemd unit gives
# it as an ambient one), so the unprivileged user binds ports 25, 465, 587, 443 and 80.
# Docker keeps that capability by default; with --cap-drop ALL, add it back with
# --cap-add NET_BIND_SERVICE (without it the binary cannot start). A host directory
# mounted as the volume must belong to uid 10025.
# `docker stop` sends SIGTERM: sessions get smtp.shutdown_grace_secs, then 421.
# Tested by .ci/container with podman (docs/production.md, "In a container").

FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target directories are build caches: a rebuild after a change
# recompiles only what changed. The binary keeps its symbols (readable backtraces) but
# not the line tables.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p palisade \
 && install -m 0755 target/release/palisade /palisade \
 && strip --strip-debug /palisade

FROM docker.io/library/debian:bookworm-slim
# One layer: the binary goes in with its capability set (a separate setcap step would
# store it twice).
RUN --mount=type=bind,from=build,source=/palisade,target=/tmp/palisade \
    apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates libcap2-bin \
 && useradd --uid 10025 --user-group --no-create-home --home-dir /var/lib/palisade --shell /usr/sbin/nologin palisade \
 && install -d -m 0700 -o palisade -g palisade /var/lib/palisade \
 && install -m 0755 /tmp/palisade /usr/local/bin/palisade \
 && setcap cap_net_bind_service=+ep /usr/local/bin/palisade \
 && apt-get purge -y libcap2-bin && apt-get autoremove -y \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
USER palisade:palisade
VOLUME ["/var/lib/palisade"]
# 80 only for ACME's HTTP-01 (acme.http_address).
EXPOSE 25 465 587 443 80
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/palisade", "--data", "/var/lib/palisade"]
CMD ["serve"]
