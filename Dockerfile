# trading-runtime: one immutable image with the pinned runtime, the pinned trading framework and
# `trading-runtime` as entrypoint. Build it with scripts/build-image.sh (docker, podman or buildah;
# build args from .env and git); in the cluster, argo/workflowtemplate-build-push-ghcr.yaml (kaniko).
#
# Build args
#   BASE_IMAGE                a Debian-based Python 3.11 image with python3 -m venv (default: official slim)
#   TRADING_RUNTIME_COMMIT    runtime commit being built: OCI revision, stamped for provenance
#   TRADING_FRAMEWORK_COMMIT  framework commit installed: label, stamped for provenance
#   TRADING_FRAMEWORK_REPO    set: install git+<repo>@<commit>#subdirectory=framework (needs git: installed
#                             with apt when absent); empty: framework/ of the build context, which must be
#                             at TRADING_FRAMEWORK_COMMIT (the runtime commit itself, or staged by
#                             scripts/build-image.sh, which writes framework/.pinned-commit)
#   SOURCE_URL, VERSION, CREATED   OCI labels (repository URL, runtime version, RFC 3339 build time)
#   NUMBA_CPU_NAME            CPU the kernels are compiled for at build time; "generic" (default) makes
#                             the warmed cache valid on any x86-64 node (numba keys its cache by CPU)
#
# Runtime contract: runs as uid 10001, read-only root filesystem; the only writable path it needs is
# /tmp (HOME, TMPDIR, NUMBA_CACHE_DIR): mount an emptyDir there. Working directory /opt/trading-runtime
# holds the shipped examples in the repository layout (trading_runtime/local/*.json, tests/data/parts/,
# tests/golden/cases/) so the repository's relative paths work unchanged.

ARG BASE_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS build
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src

# Third-party dependencies, exactly as locked (hashes required), and the build backend.
COPY requirements.txt requirements-build.txt ./
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes --no-deps -r requirements.txt -r requirements-build.txt

# The framework, pinned.
ARG TRADING_RUNTIME_COMMIT=""
ARG TRADING_FRAMEWORK_COMMIT=""
ARG TRADING_FRAMEWORK_REPO=""
COPY framework/ framework/
# hadolint ignore=DL3008
RUN set -eu; \
    if [ -n "$TRADING_FRAMEWORK_REPO" ]; then \
      [ -n "$TRADING_FRAMEWORK_COMMIT" ] || { echo "TRADING_FRAMEWORK_REPO is set but TRADING_FRAMEWORK_COMMIT is empty" >&2; exit 2; }; \
      if ! command -v git >/dev/null; then \
        apt-get update && apt-get install -y --no-install-recommends git ca-certificates && rm -rf /var/lib/apt/lists/*; \
      fi; \
      /opt/venv/bin/pip install --no-deps --no-build-isolation \
        "git+${TRADING_FRAMEWORK_REPO}@${TRADING_FRAMEWORK_COMMIT}#subdirectory=framework"; \
    else \
      pinned=$(cat framework/.pinned-commit 2>/dev/null || true); \
      if [ -n "$TRADING_FRAMEWORK_COMMIT" ] && [ "$TRADING_FRAMEWORK_COMMIT" != "$TRADING_RUNTIME_COMMIT" ] \
         && [ "$TRADING_FRAMEWORK_COMMIT" != "$pinned" ]; then \
        echo "framework/ in the build context is not at TRADING_FRAMEWORK_COMMIT=$TRADING_FRAMEWORK_COMMIT:" \
             "set TRADING_FRAMEWORK_REPO (installs it from git) or build with scripts/build-image.sh (stages it)" >&2; \
        exit 2; \
      fi; \
      /opt/venv/bin/pip install --no-deps --no-build-isolation ./framework; \
    fi

# The runtime.
COPY pyproject.toml README.md ./
COPY trading_runtime/ trading_runtime/
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation . \
 && /opt/venv/bin/pip check

# The image's working directory: entrypoint, shipped examples, golden data.
COPY scripts/image-entrypoint.sh /opt/trading-runtime/bin/trading-runtime
COPY scripts/smoke.sh /opt/trading-runtime/bin/smoke
COPY trading_runtime/local/local.json trading_runtime/local/sweep.json trading_runtime/local/optimize.json \
     /opt/trading-runtime/trading_runtime/local/
COPY tests/data/parts/ /opt/trading-runtime/tests/data/parts/
COPY tests/golden/cases/ /opt/trading-runtime/tests/golden/cases/

# Fast checks, which also warm the JIT cache shipped in the runtime stage.
ARG NUMBA_CPU_NAME=generic
ENV PATH=/opt/trading-runtime/bin:/opt/venv/bin:$PATH \
    NUMBA_CPU_NAME=${NUMBA_CPU_NAME} \
    NUMBA_CACHE_DIR=/opt/trading-runtime/numba-cache \
    TRADING_RUNTIME_COMMIT=${TRADING_RUNTIME_COMMIT} \
    TRADING_FRAMEWORK_COMMIT=${TRADING_FRAMEWORK_COMMIT}
WORKDIR /opt/trading-runtime
COPY scripts/image-checks.sh /src/image-checks.sh
RUN /src/image-checks.sh \
 && [ -n "$(find /opt/trading-runtime/numba-cache -name '*.nbi' -print -quit)" ] \
 && chmod -R a+rX /opt/venv /opt/trading-runtime

# ---------------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime
ARG TRADING_RUNTIME_COMMIT=""
ARG TRADING_FRAMEWORK_COMMIT=""
ARG SOURCE_URL=""
ARG VERSION=""
ARG CREATED=""
ARG NUMBA_CPU_NAME=generic
LABEL org.opencontainers.image.title="trading-runtime" \
      org.opencontainers.image.description="Deterministic backtests and parameter searches (trading-runtime CLI)" \
      org.opencontainers.image.revision="${TRADING_RUNTIME_COMMIT}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.created="${CREATED}" \
      trading-runtime.framework.commit="${TRADING_FRAMEWORK_COMMIT}"

RUN groupadd --gid 10001 app \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/trading-runtime /opt/trading-runtime

ENV PATH=/opt/trading-runtime/bin:/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    NUMBA_CPU_NAME=${NUMBA_CPU_NAME} \
    TRADING_RUNTIME_COMMIT=${TRADING_RUNTIME_COMMIT} \
    TRADING_FRAMEWORK_COMMIT=${TRADING_FRAMEWORK_COMMIT}
WORKDIR /opt/trading-runtime
USER 10001:10001
ENTRYPOINT ["trading-runtime"]
CMD ["--help"]
