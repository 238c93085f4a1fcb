# mlb: one image for the three containers (controller, reloader sidecar, haproxy).
#   docker build -t mlb .            (tests: --build-arg BASE_IMAGE=localhost/...)
#   controller:  docker run --net=host -v mlb:/run/mlb mlb mlb-controller --marathon http://marathon:8080
#   reloader:    docker run --net=host --pid=host -v mlb:/run/mlb mlb mlb-reloader watch
#   haproxy:     docker run --net=host --pid=host -v mlb:/run/mlb mlb mlb-reloader haproxy
# Every flag can be given as MLB_<FLAG> (MLB_MARATHON, MLB_GROUP, MLB_STATE_DIR, ...).
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      ca-certificates cmake ninja-build g++ python3 nlohmann-json3-dev libkainjow-mustache-dev \
      libsimdjson-dev libssl-dev libgtest-dev libgmock-dev libcpprest-dev libboost-dev \
      libboost-filesystem-dev prometheus-cpp-dev libcivetweb-dev >/dev/null
WORKDIR /src
COPY . .
# The same build as CI (scripts/test.sh builds this tree the same way and tests it).
RUN rm -rf build && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null \
 && cmake --build build \
 && strip build/cli/mlb build/cli/mlb-deploy build/controller/mlb-controller build/reloader/mlb-reloader

FROM ${BASE_IMAGE}
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      ca-certificates openssl haproxy libcap2-bin libcpprest2.10 libsimdjson14 \
      libprometheus-cpp-core1.0 libcivetweb1 libboost-filesystem1.74.0 >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 # HAProxy binds :80/:443 as the non-root user.
 && setcap cap_net_bind_service=+ep /usr/sbin/haproxy \
 && useradd --system --uid 10001 --home-dir /run/mlb --shell /usr/sbin/nologin mlb \
 && mkdir -p /run/mlb /etc/mlb && chown mlb:mlb /run/mlb /etc/mlb
COPY --from=build /src/build/cli/mlb /src/build/cli/mlb-deploy /src/build/controller/mlb-controller \
     /src/build/reloader/mlb-reloader /usr/local/bin/
COPY templates/ /usr/share/mlb/templates/
COPY e2e/container/entrypoint.sh /usr/local/bin/mlb-entrypoint
USER mlb
ENV MLB_STATE_DIR=/run/mlb \
    MLB_SSL_CERTS=/etc/mlb/default.pem
VOLUME /run/mlb
EXPOSE 80 443 9090 9091 9102 9103
ENTRYPOINT ["/usr/local/bin/mlb-entrypoint"]
CMD ["mlb-controller"]
