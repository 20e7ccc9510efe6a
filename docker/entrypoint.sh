#!/bin/sh
# seam-entrypoint - the image's ENTRYPOINT.
#
#   (no arguments)        exec seam run -c "$SEAM_CONFIG"
#   --flag ...            exec seam run -c "$SEAM_CONFIG" --flag ...
#                         (e.g. --log-format logfmt, --embedded-broker)
#   SUBCOMMAND ...        exec seam SUBCOMMAND ... (check-config, version, demo, ...)
#
# `exec` matters: seam must be PID 1 so that the kubelet's SIGTERM reaches it
# directly and starts its drain; a shell in between would swallow the signal
# and the pod would be SIGKILLed at the end of the grace period instead.
set -eu

seam=${SEAM_BIN:-/usr/bin/seam}
config=${SEAM_CONFIG:-/etc/seam/seam.yaml}

case "${1:-}" in
"" | -*)
        if [ ! -r "$config" ]; then
                echo "seam-entrypoint: config $config is missing or not readable (mount it, or set SEAM_CONFIG)" >&2
                exit 3
        fi
        exec "$seam" run -c "$config" "$@"
        ;;
*)
        exec "$seam" "$@"
        ;;
esac
