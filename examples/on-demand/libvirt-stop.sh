#!/bin/sh
# A graceful shutdown (the worker hands its jobs back), then the VM and its disks are removed.
virsh shutdown "$GROVE_INSTANCE" 2>/dev/null || true
i=0
while virsh domstate "$GROVE_INSTANCE" 2>/dev/null | grep -q running && [ $i -lt 60 ]; do
  sleep 1; i=$((i + 1))
done
virsh destroy "$GROVE_INSTANCE" 2>/dev/null || true
virsh undefine "$GROVE_INSTANCE" --remove-all-storage 2>/dev/null || true
