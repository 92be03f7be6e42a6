#!/bin/sh
# The healthcheck endpoint: 200 "ok", or 500 while the fault switch /state/fault-health exists.
if [ -e /state/fault-health ]; then printf 'Status: 500 Internal Server Error\r\n\r\nunhealthy\n'; else printf 'Content-Type: text/plain\r\n\r\nok\n'; fi
