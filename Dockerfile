# syntax=docker/dockerfile:1
#
# The seam image: `seam` and the in-tree consumer plugins (consumers/*) on
# Debian 12 slim with only the runtime libraries.
#
#   docker build -t seam:0.1.0 .
#   docker run --rm -v "$PWD/seam.yaml:/etc/seam/seam.yaml:ro" seam:0.1.0
#   docker run --rm seam:0.1.0 version          # any other seam subcommand
#
# Layout inside the image (docs/deploy.md relies on it):
#   /usr/bin/seam                   the host
#   /usr/lib/seam/plugins/NAME.so   plugins; `plugin: NAME` finds them there
#   /usr/local/bin/seam-entrypoint  execs `seam run -c $SEAM_CONFIG`
#   /etc/seam/seam.yaml             the config ($SEAM_CONFIG), mounted at run time
#   /usr/share/seam/schemas         the local schema registry (working directory: /usr/share/seam)
#   /tmp                            the only path seam writes by itself
#
# The build stage keeps the source tree and the CMake build dir, so
# docker/Dockerfile.plugins can add a team's plugins to consumers/ and build
# them against exactly this host (tag it: docker build --target build -t seam-build .).

ARG DEBIAN_IMAGE=debian:bookworm
ARG DEBIAN_SLIM_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
# Debian's package versions are the pin: bookworm only takes security fixes,
# and pinning exact versions would break the build at every point release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config \
        librdkafka-dev libavro-dev libyaml-dev libcurl4-openssl-dev \
        libjansson-dev libmicrohttpd-dev libsqlite3-dev libpq-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . /src
# Prefix /usr: the loader looks for plugins in <dir of seam>/../lib/seam/plugins,
# which makes /usr/lib/seam/plugins the default plugin path of the image.
# --strip keeps the runtime image small; debug builds use the build stage.
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_INSTALL_PREFIX=/usr -DSEAM_BUILD_TESTS=OFF \
    && cmake --build /build -j"$(nproc)" \
    && DESTDIR=/staging cmake --install /build --strip \
    && /staging/usr/bin/seam version

FROM ${DEBIAN_SLIM_IMAGE} AS runtime
# Only the shared libraries seam and the example plugins load, plus CA
# certificates for TLS to Kafka and the schema registry.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        librdkafka1 libavro23 libyaml-0-2 libcurl4 libjansson4 \
        libmicrohttpd12 libsqlite3-0 libpq5 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 seam \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin seam \
    && mkdir -p /etc/seam /usr/lib/seam/plugins

COPY --from=build /staging/usr/bin/seam /usr/bin/seam
COPY --from=build /staging/usr/lib/seam/plugins/ /usr/lib/seam/plugins/
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/seam-entrypoint
# The repository's registered schemas: seam's default local registry is the
# folder `schemas` of the working directory, which WORKDIR below makes
# /usr/share/seam/schemas. Images that add plugins add their schemas here.
COPY schemas/ /usr/share/seam/schemas/

# Nothing above is writable by uid 10001: the image runs with a read-only
# root filesystem and writes only to /tmp (an emptyDir in the Helm chart).
ENV SEAM_CONFIG=/etc/seam/seam.yaml \
    TMPDIR=/tmp
USER 10001:10001
WORKDIR /usr/share/seam
# The metrics/health port the Helm chart configures (seam.http.port).
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/seam-entrypoint"]
