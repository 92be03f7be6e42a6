#!/bin/sh
# The site: 503 with Drupal's maintenance page while maintenance_mode is 1, else 200.
if [ "$(cat /state/maintenance_mode 2>/dev/null)" = 1 ]; then
  printf 'Status: 503 Service Unavailable\r\nContent-Type: text/html\r\n\r\n<title>Site under maintenance</title>\n'
else
  name=$(cat /state/config/system.site.name 2>/dev/null || echo Drupal)
  printf 'Content-Type: text/html\r\n\r\n<title>%s</title>\n<p>release %s</p>\n' "$name" "$(cat /etc/golive-release)"
fi
