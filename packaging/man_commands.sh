#!/bin/sh
# help2man include: each pulseboard-cli command's --help as a COMMANDS section, so that the man
# page documents every flag. Usage: man_commands.sh PULSEBOARD_CLI > commands.h2m
set -eu
cli=$1
echo "[COMMANDS]"
"$cli" 2>&1 | awk '/^  [a-z]/ {print $1}' | while read -r command; do
    echo ".SS $command"
    echo ".nf"
    "$cli" "$command" --help | sed -e 's/\\/\\e/g' -e "s/^[.']/\\\\\\&&/"
    echo ".fi"
done
