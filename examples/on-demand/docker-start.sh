#!/bin/sh
# One container per instance; the secret goes in as a read-only file.
set -eu
exec docker run -d --rm --name "$GROVE_INSTANCE" --label grove.pool="$GROVE_POOL" \
  -v "$GROVE_SECRET_FILE:/run/grove/secret:ro" \
  "${GROVE_IMAGE:-grove-worker:latest}" \
  grove worker --master "$GROVE_MASTER_URL" --name "$GROVE_WORKER_NAME" \
  --secret-file /run/grove/secret --workdir /work
