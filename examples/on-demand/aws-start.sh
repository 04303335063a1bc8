#!/bin/sh
# An EC2 instance from an AMI with grove installed; user data starts the worker. The secret
# travels in the user data: use an AMI that reads it from Secrets Manager instead if that matters.
set -eu
secret=$(cat "$GROVE_SECRET_FILE")
user_data=$(printf '#!/bin/sh\necho %s > /etc/grove/secret\nchmod 600 /etc/grove/secret\nsystemd-run grove worker --master %s --name %s --secret-file /etc/grove/secret\n' \
  "$secret" "$GROVE_MASTER_URL" "$GROVE_WORKER_NAME")
aws ec2 run-instances --image-id "${GROVE_AMI:?set GROVE_AMI}" \
  --instance-type "${GROVE_INSTANCE_TYPE:-c6i.xlarge}" --count 1 \
  --instance-initiated-shutdown-behavior terminate \
  --tag-specifications "ResourceType=instance,Tags=[{Key=grove-instance,Value=$GROVE_INSTANCE}]" \
  --user-data "$user_data" --query 'Instances[0].InstanceId' --output text
