#!/bin/sh
# A transient service on this machine: systemd keeps it apart from the master's process tree.
set -eu
exec systemd-run --unit "grove-$GROVE_INSTANCE" --collect \
  -p KillMode=mixed -p TimeoutStopSec=60 \
  /usr/bin/grove worker --master "$GROVE_MASTER_URL" --name "$GROVE_WORKER_NAME" \
  --secret-file "$GROVE_SECRET_FILE" --workdir "/var/lib/grove/$GROVE_WORKER_NAME"
