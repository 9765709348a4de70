# syntax=docker/dockerfile:1
# arcpolicy's image: the package and its runtime dependencies in a virtual environment (the shipped policies
# inside it: --policy builtin:), on Python 3.11 slim, run as a non-root user with `arcpolicy` as entrypoint.
#   docker build -t arcpolicy:0.1.0 .
#   docker run --rm arcpolicy:0.1.0 scan -i fleet.json -p builtin:
# tests/deploy/test_image.py lints this file (hadolint) and carries out its steps without a daemon (README,
# "Running on Kubernetes", says what that checks and what it cannot).
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY remediation ./remediation
COPY policies ./policies
# The runtime only: no test, spec or build tools in the environment that is copied on.
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m venv /opt/arcpolicy \
    && /opt/arcpolicy/bin/python -m pip install --no-compile . \
    && /opt/arcpolicy/bin/python -m pip uninstall --yes pip setuptools \
    && /opt/arcpolicy/bin/python -m compileall -q /opt/arcpolicy/lib

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="arcpolicy" \
      org.opencontainers.image.description="Policy compliance and remediation for fleets of Azure Arc-enabled Kubernetes clusters" \
      org.opencontainers.image.licenses="MIT"
COPY --from=build /opt/arcpolicy /opt/arcpolicy
ENV PATH=/opt/arcpolicy/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
WORKDIR /tmp
# 65532: the conventional "nonroot" user; no account is needed, and the root file system may be read-only.
USER 65532:65532
ENTRYPOINT ["arcpolicy"]
CMD ["--help"]
