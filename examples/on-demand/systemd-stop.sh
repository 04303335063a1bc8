#!/bin/sh
# systemctl stop waits until the unit is gone.
systemctl stop "grove-$GROVE_INSTANCE.service" 2>/dev/null || true
