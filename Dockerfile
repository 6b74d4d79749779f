# PostgreSQL 15 + PostGIS 3 + pgRouting, run by pgkeeper (see docs/design.md).
#
# Built by ./build.sh. Where no container registry is reachable, make the base
# image first with .ci/base-image.sh (it uses only Debian's package mirror).

ARG BASE_IMAGE=debian:bookworm-slim

# --- build: compile pgkeeper and run its unit tests -------------------------
FROM ${BASE_IMAGE} AS build

RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends \
        g++ cmake make pkg-config libpq-dev libssl-dev \
        libgtest-dev libgmock-dev nlohmann-json3-dev libcli11-dev libmicrohttpd-dev \
        libcpp-httplib-dev libcurl4-openssl-dev; \
    rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY CMakeLists.txt ./
COPY src ./src
COPY tests ./tests

# The image is not built when a unit test fails. Integration and e2e tests
# are only registered here (which is why cmake still wants libcpp-httplib-dev,
# their HTTP client); they run on the host (make test).
RUN set -eux; \
    cmake -S . -B build -DBUILD_TESTING=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo; \
    cmake --build build -j"$(nproc)" --target pgkeeper pgkeeper_unit_tests; \
    ctest --test-dir build -L unit --no-tests=error --output-on-failure; \
    strip -o /pgkeeper build/pgkeeper

# --- runtime ----------------------------------------------------------------
FROM ${BASE_IMAGE}

# build.sh passes the version of CMakeLists.txt's project() line.
ARG PGKEEPER_VERSION=unknown
LABEL org.opencontainers.image.title="pgkeeper/postgis" \
      org.opencontainers.image.version="${PGKEEPER_VERSION}"

ENV LANG=C.UTF-8 \
    PGDATA=/var/lib/postgresql/data

# postgresql-common goes in first so that its createcluster.conf can be told
# not to make Debian's default cluster when the server package is installed:
# pgkeeper alone decides when and how a cluster is made.
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends postgresql-common; \
    sed -ri 's/^#?\s*create_main_cluster\s*=.*/create_main_cluster = false/' \
        /etc/postgresql-common/createcluster.conf; \
    grep -qx 'create_main_cluster = false' /etc/postgresql-common/createcluster.conf; \
    apt-get install -y --no-install-recommends \
        postgresql-15 \
        postgresql-15-postgis-3 \
        postgresql-15-postgis-3-scripts \
        postgresql-15-pgrouting \
        libpq5 \
        libmicrohttpd12 \
        libcurl4 \
        ca-certificates; \
    rm -rf /var/lib/apt/lists/*; \
    test ! -e /etc/postgresql/15/main; \
    test ! -e /var/lib/postgresql/15/main; \
    install -d -o postgres -g postgres -m 0700 "$PGDATA"; \
    rm -rf /var/run/postgresql; \
    install -d -o postgres -g postgres -m 0700 /var/run/postgresql; \
    install -d -m 0755 /docker-entrypoint-initdb.d

COPY --from=build /pgkeeper /usr/local/bin/pgkeeper

VOLUME /var/lib/postgresql
EXPOSE 5432 8008
STOPSIGNAL SIGTERM

# `pgkeeper health` says whether this node serves queries in its role. The
# short interval lets `depends_on: condition: service_healthy` react quickly;
# the long start period covers a replicant's first copy of a large master.
HEALTHCHECK --interval=2s --timeout=5s --start-period=300s --retries=3 \
    CMD ["/usr/local/bin/pgkeeper", "health"]

# pgkeeper starts as root, prepares its directories and runs postgres as the
# postgres user itself, so no USER here.
ENTRYPOINT ["/usr/local/bin/pgkeeper"]
CMD ["run"]
