#!/bin/sh
# `aisoc` in the container image: the entrypoint, and the command for
# `docker compose exec aisoc aisoc …`.
#
# Secrets come as files (Docker secrets under /run/secrets): for every
# variable NAME_FILE set in the environment, where NAME is AISOC_* or
# PGPASSWORD (which the PostgreSQL client reads when AISOC_DATABASE_URL
# carries no password), NAME is set to the file's content, without its
# trailing newline. Setting both NAME and NAME_FILE is refused, as is a
# file that cannot be read: a secret that silently went missing would make
# the server start without it.
set -eu

for assignment in $(env | sed -n 's/^\(AISOC_[A-Z0-9_]*_FILE\|PGPASSWORD_FILE\)=.*/\1/p'); do
  file_var=$assignment
  var=${file_var%_FILE}
  eval "file=\${$file_var}"
  eval "already=\${$var+set}"
  if [ "$already" = set ]; then
    echo "aisoc: both $var and $file_var are set; set only one of them." >&2
    exit 2
  fi
  # shellcheck disable=SC2154 # file is assigned by eval above
  if [ ! -r "$file" ]; then
    echo "aisoc: $file_var names $file, which cannot be read." >&2
    exit 2
  fi
  value=$(cat "$file")
  export "$var=$value"
  unset "$file_var"
done

exec node "${AISOC_APP_DIR:-/app}/bin/aisoc.mjs" "$@"
