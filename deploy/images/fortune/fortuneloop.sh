#!/bin/sh
# Writes a fortune where the web server of the book's fortune pod reads it.
interval=${1:-${INTERVAL:-10}}
trap 'exit 0' INT TERM
echo "Configured to generate new fortune every $interval seconds"
mkdir -p /var/htdocs
while :; do
  echo "$(date) Writing fortune to /var/htdocs/index.html"
  /usr/games/fortune > /var/htdocs/index.html
  # In the background, so that the trap runs as soon as a signal comes.
  sleep "$interval" &
  wait $!
done
