#!/bin/sh
# Container entrypoint: what `make run` does, without the demo data.
#
# 1. Bring the schema to the migrations' head. Idempotent: at head it changes nothing, so a restart
#    is safe. On PostgreSQL with several replicas, run it once as a job before starting them (see
#    docs/deployment.md); `passeport serve` refuses to start on a schema that is not at head.
# 2. Replace this shell with the server (exec), so that it is PID 1 and receives the SIGTERM of
#    `docker stop` directly and shuts down gracefully.
#
# Extra arguments go to `passeport serve`, e.g. `docker run IMAGE --workers 4`.
# Any failure (bad settings, unreachable database) stops here with the CLI's one-line error and a
# non-zero exit status.
set -eu

passeport db upgrade
exec passeport serve --host 0.0.0.0 --port 8000 "$@"
