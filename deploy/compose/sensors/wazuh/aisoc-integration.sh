#!/bin/bash
# Installs AI-SOC's custom-aisoc integration in the Wazuh manager container.
# The wazuh/wazuh-manager 4.x image runs every /entrypoint-scripts/*.sh as
# root before it starts the manager (its cont-init.d/2-manager); compose.yaml
# mounts this file there. Each start it:
#  - copies the script (content/integrations/wazuh/custom-aisoc, mounted at
#    /aisoc/custom-aisoc) to /var/ossec/integrations/ (root:wazuh, 0750);
#  - copies the webhook secret where the wazuh user can read it;
#  - writes the <integration> block into ossec.conf, between markers, with the
#    ingest key read from the Docker secret (never from this file), replacing
#    the block an earlier start wrote.
# docs/deploy.md, "sensors", and content/integrations/wazuh/README.md.
set -euo pipefail

# The paths can be changed for a test run outside the image.
OSSEC=${OSSEC:-/var/ossec}
CONF=$OSSEC/etc/ossec.conf
SCRIPT=${AISOC_SCRIPT:-/aisoc/custom-aisoc}
KEY_FILE=${KEY_FILE:-/run/secrets/aisoc_ingest_key}
SECRET_FILE=${SECRET_FILE:-/run/secrets/aisoc_webhook_secret}
GROUP=${WAZUH_GROUP:-wazuh}
HOOK_URL=${AISOC_WEBHOOK_URL:-http://aisoc:8080/webhook}
BEGIN='<!-- aisoc-integration: begin (written by aisoc-integration.sh) -->'
END='<!-- aisoc-integration: end -->'

install -o root -g "$GROUP" -m 0750 "$SCRIPT" "$OSSEC/integrations/custom-aisoc"

# The script starts with #!/usr/bin/env python3: use the manager's own Python when the image has no other.
if ! command -v python3 >/dev/null 2>&1 && [ -x "$OSSEC/framework/python/bin/python3" ]; then
  ln -sf "$OSSEC/framework/python/bin/python3" /usr/local/bin/python3
fi

options='{"timeout_s": 10, "retries": 3}'
if [ -s "$SECRET_FILE" ]; then
  install -o root -g "$GROUP" -m 0640 "$SECRET_FILE" "$OSSEC/etc/aisoc-webhook-secret"
  options="{\"hmac_secret_file\": \"$OSSEC/etc/aisoc-webhook-secret\", \"timeout_s\": 10, \"retries\": 3}"
fi

# Drop the block an earlier start wrote.
sed -i "/aisoc-integration: begin/,/aisoc-integration: end/d" "$CONF"

key=$(tr -d '\r\n' <"$KEY_FILE" 2>/dev/null || true)
if [ -z "$key" ]; then
  echo "aisoc-integration: $KEY_FILE is empty: alerts are not sent to AI-SOC until it holds an ingest key (docs/deploy.md)." >&2
  exit 0
fi
case $key in
  *[!A-Za-z0-9_.-]*)
    echo "aisoc-integration: $KEY_FILE holds characters an AI-SOC key never has; not installed." >&2
    exit 0
    ;;
esac

cat >>"$CONF" <<XML
$BEGIN
<ossec_config>
  <integration>
    <name>custom-aisoc</name>
    <hook_url>$HOOK_URL</hook_url>
    <api_key>$key</api_key>
    <alert_format>json</alert_format>
    <level>3</level>
    <options>$options</options>
  </integration>
</ossec_config>
$END
XML
chown "root:$GROUP" "$CONF"
chmod 0640 "$CONF"
echo "aisoc-integration: custom-aisoc sends alerts of level 3 or more to $HOOK_URL."
