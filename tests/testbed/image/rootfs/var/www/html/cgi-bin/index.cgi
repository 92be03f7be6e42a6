#!/bin/sh
# Requests for "/" straight to the container (the deploy's maintenance checks): the application itself.
PATH_INFO=/ exec /var/www/html/cgi-bin/app.cgi
