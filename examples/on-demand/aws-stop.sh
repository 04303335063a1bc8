#!/bin/sh
# Finds the machine by its tag (also after a master restart) and waits until it is terminated.
set -eu
ids=$(aws ec2 describe-instances \
  --filters "Name=tag:grove-instance,Values=$GROVE_INSTANCE" \
            "Name=instance-state-name,Values=pending,running,stopping,stopped" \
  --query 'Reservations[].Instances[].InstanceId' --output text)
[ -z "$ids" ] && exit 0
aws ec2 terminate-instances --instance-ids $ids >/dev/null
aws ec2 wait instance-terminated --instance-ids $ids
