#!/bin/sh
# Prepare secrets/ and .env for compose.yaml (docs/deploy.md, "Secrets").
#
#   ./init-secrets.sh            # in deploy/compose/
#
# Writes a random value into each secret file that is missing or empty and
# that can be random (passwords, the admin key, the webhook secret), an empty
# placeholder for the ones you fill in (the keys AI-SOC issues, receivers'
# credentials), and .env from .env.example with its random secrets filled
# in. It never overwrites a file that has content. SECRETS_DIR and ENV_FILE
# choose other places (the tests use them).
set -eu
cd "$(dirname "$0")"
SECRETS_DIR=${SECRETS_DIR:-./secrets}
ENV_FILE=${ENV_FILE:-./.env}

random() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }

mkdir -p "$SECRETS_DIR"
chmod 0700 "$SECRETS_DIR"
umask 022

# name: random | empty
for spec in \
  postgres_password:random \
  nats_password:random \
  grafana_admin_password:random \
  aisoc_admin_key:random \
  aisoc_webhook_secret:random \
  aisoc_ingest_key:empty \
  aisoc_metrics_key:empty \
  slack_webhook_url:empty \
  pagerduty_routing_key:empty \
  smtp_password:empty; do
  name=${spec%%:*}
  kind=${spec#*:}
  file="$SECRETS_DIR/$name"
  if [ -s "$file" ]; then
    echo "kept     $file"
    continue
  fi
  if [ "$kind" = random ]; then
    random >"$file"
    echo "wrote    $file (random)"
  else
    : >"$file"
    echo "empty    $file (fill it in: docs/deploy.md, \"Secrets\")"
  fi
  chmod 0644 "$file"
done

if [ -s "$ENV_FILE" ]; then
  echo "kept     $ENV_FILE"
else
  # Wazuh's API wants upper and lower case, a digit and a symbol.
  wazuh="Wz1.$(random | cut -c1-40)"
  sed "s/^WAZUH_API_PASSWORD=\$/WAZUH_API_PASSWORD=$wazuh/" .env.example >"$ENV_FILE"
  chmod 0600 "$ENV_FILE"
  echo "wrote    $ENV_FILE (from .env.example, secrets filled in)"
fi
