#!/bin/sh
# As the Docker Hub image's entrypoint: options alone (`--port 27018`) are
# mongod's; any other command runs as given.
case "${1:-}" in
  -*) set -- mongod "$@" ;;
esac
exec "$@"
