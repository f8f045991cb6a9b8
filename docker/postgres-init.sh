#!/usr/bin/env bash
# Runs once, when the postgres container initialises its data directory: provisions the four
# service roles and schemas with scripts/provision-sql (mounted at /supportmesh/provision-sql).
set -euo pipefail
/supportmesh/provision-sql "$POSTGRES_DB" | psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB"
