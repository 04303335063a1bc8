#!/bin/sh
# SIGTERM first (the worker hands back what it runs), gone when this returns.
docker stop -t 60 "$GROVE_INSTANCE" >/dev/null 2>&1 || true
docker rm -f "$GROVE_INSTANCE" >/dev/null 2>&1 || true
