#!/bin/sh
# Container entry point: migrate the database, then run tokenbot in the foreground.
# `exec` makes tokenbot PID 1's child-free replacement, so SIGTERM from `docker stop` reaches it
# directly and in-flight work finishes before the container exits.
set -eu

if [ "$#" -eq 0 ]; then
    set -- serve
fi

case "$1" in
    serve)
        tokenbot db upgrade
        exec tokenbot "$@"
        ;;
    *)
        # Any other tokenbot command (admin create, accounts list, keys rotate, ...).
        exec tokenbot "$@"
        ;;
esac
