#!/bin/sh
# Clones a template VM whose first boot runs grove worker with the name, master and secret it
# reads from the cloud-init/kernel command line (here: written into the clone with virt-customize).
set -eu
TEMPLATE=${GROVE_VM_TEMPLATE:-grove-worker-template}
virt-clone --original "$TEMPLATE" --name "$GROVE_INSTANCE" --auto-clone
virt-customize -d "$GROVE_INSTANCE" \
  --upload "$GROVE_SECRET_FILE:/etc/grove/secret" \
  --write "/etc/grove/worker.env:GROVE_MASTER=$GROVE_MASTER_URL
GROVE_WORKER_NAME=$GROVE_WORKER_NAME"
virsh start "$GROVE_INSTANCE"
