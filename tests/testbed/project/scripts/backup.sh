#!/bin/sh
# Stand-in for the project's backup script (runbook 3.2): dumps the database through drush and copies
# the files into backups/LABEL/.
set -eu
label=manual
while [ $# -gt 0 ]; do
  case "$1" in --label) label=$2; shift ;; --full) ;; *) echo "backup.sh: unknown option $1" >&2; exit 2 ;; esac
  shift
done
dir=backups/$label
mkdir -p "$dir"
docker-compose exec -T drupal drush sql:dump "--result-file=/state/backup-$label.sql" --gzip
mv "state/backup-$label.sql" "$dir/db.sql"
rm -rf "$dir/files" && cp -r files "$dir/files"
echo "backup $label: $(wc -c < "$dir/db.sql") bytes of database, $(ls "$dir/files" | wc -l) files"
