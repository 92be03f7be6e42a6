#!/bin/sh
# Stand-in for the project's backup script (runbook 3.2): dumps the database through drush, copies the
# files into backups/LABEL/, and puts the dump off-site in S3 (LABEL/db.sql) when .env names a bucket.
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
S3_BUCKET=$(sed -n 's/^S3_BUCKET=//p' .env)
if [ -n "$S3_BUCKET" ]; then
  endpoint=$(sed -n 's/^S3_ENDPOINT=//p' .env); region=$(sed -n 's/^S3_REGION=//p' .env)
  # The keys go to curl on stdin, never on a command line.
  printf 'user = "%s:%s"\n' "$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' .env)" "$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' .env)" |
    curl -fsS --aws-sigv4 "aws:amz:${region:-eu-west-1}:s3" --config - -T "$dir/db.sql" "$endpoint/$S3_BUCKET/$label/db.sql"
  echo "backup $label: db.sql copied to s3://$S3_BUCKET/$label/"
fi
