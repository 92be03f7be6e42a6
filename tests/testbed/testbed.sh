#!/bin/sh
# The test bed, shared by the tests, the rehearsal target in golive.toml and CI:
#   - a throwaway sshd on 127.0.0.1:2201, user `golive` (unprivileged, /bin/sh, in the docker group) and
#     user `golive-bash` (the same key, /bin/bash: a login shell other than /bin/sh) and user `golive-ash`
#     (busybox's sh for login shell and busybox's applets alone on its PATH: a host without bash, as Alpine),
#     key-only, strict host keys (known_hosts written from the host key, no trust on first use); and the
#     fleet: the same on 127.0.0.2 to 127.0.0.101, port 2202 (known_hosts_fleet), a hundred hosts to a client;
#   - the stand-in Drupal stack: images built FROM scratch with busybox-static (nothing is pulled),
#     tagged jaraba/drupal:11-prod (release "new") and jaraba/drupal:11-prod-backup (release "backup");
#     a third, release "broken", is what `release broken` makes the next deploy start; "janky" (slow in a
#     browser: a late banner without a size, a blocking menu button) is what `release janky` does.
#   - the services validation talks to: nginx terminating TLS on 127.0.0.1:18443 (its own CA under tls/) in
#     front of the deployed container's application (image/rootfs/var/www/html/cgi-bin/app.cgi), the
#     Stripe double (:12111) and the vendor doubles (:18090) from tests/servers/doubles.py, and dnsmasq
#     (:15353) answering app.jarabaimpact.com; their keys for the rehearsal go to rehearsal.env;
#   - the rehearsal database: MariaDB (Debian's packages) on 127.0.0.1:13306, seeded from seed.sql on reset;
#   - for monitoring: Prometheus (:9091) scraping itself and a node exporter (:9101), and an SMTP sink
#     (aiosmtpd, :8025) that keeps every message under mail/ (a Maildir), served over IMAP by dovecot
#     (:10143, password mail-rehearsal-pw); webhooks land in the vendor double's /hooks/.
#   - golive's shared state store: PostgreSQL (Debian's packages) on 127.0.0.1:15432, role golive (password
#     state-rehearsal-pw, may create databases: each test makes its own), database golive.
# Usage: testbed.sh up | reset | release NAME | down | status.   Idempotent; concurrent callers wait on a lock.
# Everything stops by itself after four hours (a watchdog runs `down`).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
T=${GOLIVE_TESTBED:-/tmp/golive-testbed}
PORT=${GOLIVE_TESTBED_PORT:-2201}
D=$T/ssh
P=$T/project
TUSER=golive
TUSER_BASH=golive-bash
TUSER_ASH=golive-ash
# The off-site S3's keys (the S3 double does not check them; golive and backup.sh sign with them all the same).
S3_KEY_ID=AKIAGOLIVEREHEARSAL01
S3_SECRET=golive-rehearsal-s3-secret-0001
# Not root: a reset or a release goes to the helper `up` started for the developer who ran it with sudo
# (before the lock, which the helper's own testbed.sh takes).
if [ "$(id -u)" -ne 0 ]; then
  case "${1:-up}" in
    reset|release)
      [ -S "$T/helper.sock" ] || { echo "testbed.sh $1 needs root, or the helper of a test bed brought up with sudo: sudo $0 up" >&2; exit 2; }
      exec python3 - "$T/helper.sock" "$*" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except OSError as e:
    sys.exit(f"testbed.sh: cannot reach the test bed's helper at {sys.argv[1]}: {e}")
s.sendall((sys.argv[2] + "\n").encode())
answer = b"".join(iter(lambda: s.recv(65536), b"")).decode(errors="replace")
output, _, code = answer.rstrip("\n").rpartition("\n")
sys.stdout.write(output + ("\n" if output else ""))
sys.exit(int(code) if code.isdigit() else 1)
PY
      ;;
    status) ;;
    *) echo "testbed.sh $1 needs root: sudo $0 $1" >&2; exit 2 ;;
  esac
fi
mkdir -p "$T"
exec 9>"$T/.lock"
flock 9

# Whether a process lives, asked of /proc: `kill -0` on root's process answers EPERM to a developer.
alive() { [ -n "$1" ] && [ -d "/proc/$1" ]; }
sshd_running() { [ -f "$D/sshd.bgpid" ] && alive "$(cat "$D/sshd.bgpid")"; }

# The users, on every `up`: a bed set up before a user was added gets it too.
setup_users() {
  mkdir -p "$D" && chmod 755 "$T" "$D"
  if ! id "$TUSER" >/dev/null 2>&1; then
    useradd --system --home-dir "$D/home" --create-home --shell /bin/sh "$TUSER"
  fi
  # The user may outlive the test bed's folder (a reboot clears /tmp): its home must exist all the same.
  mkdir -p "$D/home" && chown "$TUSER" "$D/home"
  usermod -p '*' "$TUSER"                       # no password, but not locked (UsePAM no refuses '!')
  if ! id "$TUSER_BASH" >/dev/null 2>&1; then
    useradd --system --home-dir "$D/home-bash" --create-home --shell /bin/bash "$TUSER_BASH"
  fi
  mkdir -p "$D/home-bash" && chown "$TUSER_BASH" "$D/home-bash"
  usermod -p '*' "$TUSER_BASH"
  # busybox's applets, alone on golive-ash's PATH (sshd_config): its login shell is busybox's sh.
  if [ ! -x "$D/busybox/sh" ]; then
    mkdir -p "$D/busybox" && busybox --install -s "$D/busybox" && chmod 755 "$D/busybox"
  fi
  if ! id "$TUSER_ASH" >/dev/null 2>&1; then
    useradd --system --home-dir "$D/home-ash" --create-home --shell "$D/busybox/sh" "$TUSER_ASH"
  fi
  mkdir -p "$D/home-ash" && chown "$TUSER_ASH" "$D/home-ash"
  usermod -p '*' "$TUSER_ASH"
  getent group docker >/dev/null && usermod -aG docker "$TUSER"
  return 0
}

setup_sshd() {
  mkdir -p -m 0755 /run/sshd
  [ -f "$D/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C golive-testbed-host -f "$D/host_ed25519"
  [ -f "$D/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C golive-testbed-client -f "$D/client_ed25519"
  [ -f "$D/other_host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C golive-testbed-other -f "$D/other_host_ed25519"
  cp "$D/client_ed25519.pub" "$D/authorized_keys"; chmod 644 "$D/authorized_keys"
  printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$D/host_ed25519.pub")" > "$D/known_hosts"
  # A known_hosts that holds another key for the same host: the "host key changed" case.
  printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$D/other_host_ed25519.pub")" > "$D/known_hosts_wrong"
  : > "$D/known_hosts_empty"
  cat > "$D/sshd_config" <<CFG
Port $PORT
ListenAddress 127.0.0.1
HostKey $D/host_ed25519
PidFile $D/sshd.pid
AuthorizedKeysFile $D/authorized_keys
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
# MaxSessions stays at its default (10 per connection): golive's default max_sessions (8) is tested against it.
MaxStartups 64:30:128
LogLevel VERBOSE
PrintMotd no
UseDNS no
Subsystem sftp /usr/lib/openssh/sftp-server
# The first SetEnv that applies is the one used.
Match User $TUSER_ASH
  SetEnv PATH=$D/busybox
Match all
  SetEnv PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CFG
  cat > "$D/ssh_config" <<CFG
Host golive-testbed
  HostName 127.0.0.1
  Port $PORT
  User $TUSER
  IdentityFile $D/client_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $D/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
CFG
  /usr/sbin/sshd -t -f "$D/sshd_config"
}

# The fleet: the same sshd setup on 100 loopback addresses, 127.0.0.2 to 127.0.0.101, port 2202, ten sshd
# processes of ten addresses each (sshd listens on at most 16): a hundred hosts as a client sees them
# (addresses, connections, ssh masters), with known_hosts_fleet.
FLEET_PORT=2202
fleet_running() { [ -f "$D/fleet.bgpids" ] && for p in $(cat "$D/fleet.bgpids"); do alive "$p" || return 1; done; }
start_fleet() {
  fleet_running && return 0
  stop_fleet
  key=$(cut -d' ' -f1,2 "$D/host_ed25519.pub")
  : > "$D/known_hosts_fleet"
  : > "$D/fleet.bgpids"
  group=0
  while [ $group -lt 10 ]; do
    config="$D/fleet_sshd_config.$group"
    # Its addresses first: the shared config ends in Match blocks.
    : > "$config"
    n=$((group * 10 + 2))
    while [ $n -le $((group * 10 + 11)) ]; do
      printf 'ListenAddress 127.0.0.%s:%s\n' "$n" "$FLEET_PORT" >> "$config"
      printf '[127.0.0.%s]:%s %s\n' "$n" "$FLEET_PORT" "$key" >> "$D/known_hosts_fleet"
      n=$((n+1))
    done
    sed -e '/^Port /d' -e '/^ListenAddress /d' -e "s|^PidFile .*|PidFile $D/fleet.$group.pid|" "$D/sshd_config" >> "$config"
    /usr/sbin/sshd -t -f "$config"
    timeout 4h /usr/sbin/sshd -D -f "$config" -E "$D/fleet.$group.log" </dev/null >/dev/null 2>&1 9>&- &
    echo $! >> "$D/fleet.bgpids"
    group=$((group+1))
  done
  chmod 644 "$D/known_hosts_fleet"
  for last in 11 21 31 41 51 61 71 81 91 101; do
    i=0
    until ssh -F "$D/ssh_config" -o HostName=127.0.0.$last -o Port=$FLEET_PORT -o UserKnownHostsFile="$D/known_hosts_fleet" golive-testbed true 2>/dev/null; do
      i=$((i+1)); [ $i -gt 100 ] && { echo "the fleet's sshd for 127.0.0.$last did not come up" >&2; cat "$D"/fleet.*.log >&2; exit 1; }
      sleep 0.05
    done
  done
}
stop_fleet() {
  [ -f "$D/fleet.bgpids" ] && for p in $(cat "$D/fleet.bgpids"); do alive "$p" && kill "$p"; done
  rm -f "$D/fleet.bgpids"
}

start_sshd() {
  sshd_running && return 0
  timeout 4h /usr/sbin/sshd -D -f "$D/sshd_config" -E "$D/sshd.log" </dev/null >/dev/null 2>&1 9>&- &
  echo $! > "$D/sshd.bgpid"
  i=0
  until ssh -F "$D/ssh_config" golive-testbed true 2>/dev/null; do
    i=$((i+1)); [ $i -gt 100 ] && { echo "sshd did not come up" >&2; tail -20 "$D/sshd.log" >&2; exit 1; }
    sleep 0.05
  done
}

build_images() {
  # The host's mariadb client goes into the image too: its version is part of what the image is.
  hash=$( (cd "$HERE/image" && find . -type f | sort | xargs sha256sum; mariadb --version) | sha256sum | cut -c1-12)
  for release in new backup broken janky; do
    tag="golive/fake-drupal:$release-$hash"
    if ! docker image inspect "$tag" >/dev/null 2>&1; then
      ctx=$T/image-ctx
      rm -rf "$ctx"; cp -r "$HERE/image" "$ctx"
      mkdir -p "$ctx/rootfs/bin"; cp "$(readlink -f /bin/busybox)" "$ctx/rootfs/bin/busybox"
      # The real mariadb client and dump tool, with the shared libraries they load.
      mkdir -p "$ctx/rootfs/usr/bin"
      for bin in /usr/bin/mariadb /usr/bin/mariadb-dump; do
        cp "$bin" "$ctx/rootfs/usr/bin/"
        for lib in $(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
          mkdir -p "$ctx/rootfs$(dirname "$lib")"; cp -L "$lib" "$ctx/rootfs$lib"
        done
      done
      docker build -q --build-arg RELEASE=$release -t "$tag" "$ctx" >/dev/null 2>"$T/build.log" \
        || { cat "$T/build.log" >&2; exit 1; }
    fi
  done
  echo "$hash" > "$T/image.hash"
}

reset_stack() {
  start_mariadb
  hash=$(cat "$T/image.hash")
  mkdir -p "$P/state"; chmod 777 "$P/state"
  cp "$HERE/docker-compose.yml" "$P/docker-compose.yml"
  # The server's .env: compose's project name and the credentials Friday checks (each value's shape, judged
  # on the server, and that the application runs with the keys golive checks the vendors with).
  # The site's own settings come from it too (env_file): its admin password, the Stripe and Anthropic doubles.
  cat > "$P/.env" <<ENV
COMPOSE_PROJECT_NAME=golivebed
STRIPE_SECRET_KEY=sk_live_golive_rehearsal_0001
STRIPE_API=http://127.0.0.1:12111
STRIPE_WEBHOOK_SECRET=whsec_golive_rehearsal_0001
ANTHROPIC_API_KEY=sk-ant-golive-double-0001
ANTHROPIC_API=http://127.0.0.1:18090/anthropic
ACTIVECAMPAIGN_API_TOKEN=ac-token-golive-0001
MYSQL_PASSWORD=drupal-rehearsal-pw
ADMIN_PASSWORD=correct-horse-battery
APP_URL=https://localhost:18443
SMTP_HOST=127.0.0.1
SMTP_PORT=8025
S3_ENDPOINT=http://127.0.0.1:15000
S3_REGION=us-east-1
S3_BUCKET=jaraba-backups
AWS_ACCESS_KEY_ID=$S3_KEY_ID
AWS_SECRET_ACCESS_KEY=$S3_SECRET
ENV
  # The rehearsal database, as production's is before the go-live.
  mariadb --no-defaults --socket="$T/mariadb/mysqld.sock" -uroot < "$HERE/seed.sql"
  (cd "$P" && docker-compose down -t 1 >/dev/null 2>&1 || true)
  rm -rf "$P/state"/* "$P/backups" "$P/files" "$P/staging-files" "$P/scripts" "$P/staging"
  cp -r "$HERE/project/scripts" "$P/scripts"
  mkdir -p "$P/files" "$P/backups" "$P/staging-files/img"
  echo "logo" > "$P/staging-files/img/logo.png"; echo "terms" > "$P/staging-files/terms.html"
  echo "old" > "$P/files/old.txt"
  mkdir -p "$P/staging"; echo "-- staging dump" | gzip > "$P/staging/latest.sql.gz"
  chmod 777 "$P/files" "$P/backups"
  docker tag "golive/fake-drupal:new-$hash" jaraba/drupal:11-prod
  docker tag "golive/fake-drupal:backup-$hash" jaraba/drupal:11-prod-backup
  docker rmi jaraba/drupal:11-prod-failed >/dev/null 2>&1 || true
  chown -R "$TUSER" "$P"
  # Production is running before the go-live: so is the test bed after a reset.
  (cd "$P" && docker-compose up -d >/dev/null 2>&1)
  i=0
  until [ "$(docker inspect -f '{{.State.Health.Status}}' golivebed_drupal_1 2>/dev/null)" = healthy ]; do
    i=$((i+1)); [ $i -gt 120 ] && { echo "the test bed stack did not become healthy" >&2; exit 1; }
    sleep 0.25
  done
  : > "$P/state/drush.log"
}

running() { [ -f "$T/$1.pid" ] && alive "$(cat "$T/$1.pid")"; }

start_mariadb() {
  if ! running mariadb; then
    # The rehearsal database: MariaDB from Debian's packages on the loopback, root and drupal users for the
    # containers (which share the host's network), seeded by reset_stack.
    M=$T/mariadb
    mkdir -p "$M"
    if [ ! -d "$M/data/mysql" ]; then
      mariadb-install-db --no-defaults --user=root --datadir="$M/data" --auth-root-authentication-method=normal \
        --skip-test-db >"$M/install.log" 2>&1 || { cat "$M/install.log" >&2; exit 1; }
    fi
    nohup timeout 14400 mariadbd --no-defaults --user=root --datadir="$M/data" --socket="$M/mysqld.sock" \
      --pid-file="$M/mysqld.pid" --port=13306 --bind-address=127.0.0.1 --skip-name-resolve \
      --log-error="$M/error.log" </dev/null >/dev/null 2>&1 9>&- &
    echo $! > "$T/mariadb.pid"
    i=0
    until mariadb-admin --no-defaults --socket="$M/mysqld.sock" ping >/dev/null 2>&1; do
      i=$((i+1)); [ $i -gt 200 ] && { echo "MariaDB did not start:" >&2; tail -20 "$M/error.log" >&2; exit 1; }
      sleep 0.05
    done
    mariadb --no-defaults --socket="$M/mysqld.sock" -uroot <<SQL
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY 'rehearsal-root-pw';
GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'drupal'@'127.0.0.1';
ALTER USER 'drupal'@'127.0.0.1' IDENTIFIED BY 'drupal-rehearsal-pw';
GRANT ALL ON jaraba.* TO 'drupal'@'127.0.0.1';
SQL
  fi
}

# PostgreSQL for golive's state backend ([state] url): run as the postgres account (it refuses root).
start_postgres() {
  running postgres && return 0
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  G=$T/postgres
  mkdir -p "$G"
  chown postgres "$G"
  if [ ! -f "$G/data/PG_VERSION" ]; then
    printf 'state-rehearsal-pw\n' > "$G/.pw"
    chown postgres "$G/.pw"
    su postgres -s /bin/sh -c "'$bin/initdb' -D '$G/data' -U postgres -A scram-sha-256 --pwfile='$G/.pw' -E UTF8" \
      >"$G/initdb.log" 2>&1 || { cat "$G/initdb.log" >&2; exit 1; }
  fi
  # Loopback only; the socket in its own folder; connections are cheap to count (each test opens a few).
  su postgres -s /bin/sh -c "nohup timeout 14400 '$bin/postgres' -D '$G/data' -c listen_addresses=127.0.0.1 \
    -c port=15432 -c unix_socket_directories='$G' -c max_connections=200 -c fsync=on \
    </dev/null >'$G/server.log' 2>&1 & echo \$! > '$G/pid'" 9>&-
  cp "$G/pid" "$T/postgres.pid"
  i=0
  until PGPASSWORD=state-rehearsal-pw psql -h 127.0.0.1 -p 15432 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; do
    i=$((i+1)); [ $i -gt 200 ] && { echo "PostgreSQL did not start:" >&2; tail -20 "$G/server.log" >&2; exit 1; }
    sleep 0.05
  done
  PGPASSWORD=state-rehearsal-pw psql -h 127.0.0.1 -p 15432 -U postgres -d postgres -q >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'golive') THEN
    CREATE ROLE golive LOGIN CREATEDB PASSWORD 'state-rehearsal-pw';
  END IF;
END $$;
SELECT 'CREATE DATABASE golive OWNER golive' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'golive')
\gexec
SQL
}

start_services() {
  if [ ! -f "$T/tls/site.crt" ]; then
    mkdir -p "$T/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=golive rehearsal CA" -keyout "$T/tls/ca.key" -out "$T/tls/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=app.jarabaimpact.com" \
      -keyout "$T/tls/site.key" -out "$T/tls/site.csr" 2>/dev/null
    printf 'subjectAltName=DNS:app.jarabaimpact.com,DNS:localhost,IP:127.0.0.1\n' > "$T/tls/san.ext"
    openssl x509 -req -in "$T/tls/site.csr" -CA "$T/tls/ca.pem" -CAkey "$T/tls/ca.key" -CAcreateserial \
      -days 90 -extfile "$T/tls/san.ext" -out "$T/tls/site.crt" 2>/dev/null
    chmod 644 "$T/tls/ca.pem"
  fi
  if ! running doubles; then
    nohup python3 "$HERE/../servers/doubles.py" --detach --ttl 14400 --stripe 12111 --vendors 18090 \
      </dev/null >"$T/doubles.log" 2>&1 9>&- &
    echo $! > "$T/doubles.pid"
  fi
  if ! running nginx; then
    # The site as visitors reach it: nginx terminates TLS (the test bed's CA) and hands every path to the
    # deployed container's application, so validation sees what the deploy started.
    mkdir -p "$T/nginx/logs"
    cat > "$T/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log $T/nginx/logs/access.log combined;
  client_body_temp_path $T/nginx/body;
  proxy_temp_path $T/nginx/proxy;
  fastcgi_temp_path $T/nginx/fastcgi;
  uwsgi_temp_path $T/nginx/uwsgi;
  scgi_temp_path $T/nginx/scgi;
  server {
    listen 127.0.0.1:18443 ssl;
    server_name app.jarabaimpact.com localhost;
    ssl_certificate $T/tls/site.crt;
    ssl_certificate_key $T/tls/site.key;
    location / {
      proxy_pass http://127.0.0.1:18080/cgi-bin/app.cgi/;
      proxy_set_header Host \$host;
      proxy_read_timeout 30s;
    }
  }
}
NGINX
    nohup timeout 14400 nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -g 'daemon off;' \
      </dev/null >"$T/nginx/logs/stderr.log" 2>&1 9>&- &
    echo $! > "$T/nginx.pid"
  fi
  if ! running dnsmasq; then
    nohup timeout 14400 dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
      --listen-address=127.0.0.1 --port=15353 --user=root --pid-file= --local=/jarabaimpact.com/ \
      --address=/app.jarabaimpact.com/203.0.113.10 </dev/null >"$T/dnsmasq.log" 2>&1 9>&- &
    echo $! > "$T/dnsmasq.pid"
  fi
  if ! running prometheus; then
    mkdir -p "$T/prometheus"
    cat > "$T/prometheus/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs: [{targets: ['127.0.0.1:9091']}]
  - job_name: node
    static_configs: [{targets: ['127.0.0.1:9101']}]
YML
    nohup timeout 14400 prometheus-node-exporter --web.listen-address=127.0.0.1:9101 --no-collector.textfile \
      --log.level=warn </dev/null >"$T/node-exporter.log" 2>&1 9>&- &
    echo $! > "$T/node-exporter.pid"
    nohup timeout 14400 prometheus --config.file="$T/prometheus/prometheus.yml" --storage.tsdb.path="$T/prometheus/data" \
      --storage.tsdb.retention.time=1d --web.listen-address=127.0.0.1:9091 --log.level=warn \
      </dev/null >"$T/prometheus.log" 2>&1 9>&- &
    echo $! > "$T/prometheus.pid"
  fi
  # The mailbox the SMTP sink writes (Maildir), owned by the test user dovecot serves it as.
  mkdir -p "$T/mail/new" "$T/mail/cur" "$T/mail/tmp"
  chown -R "$TUSER" "$T/mail" && chmod 755 "$T/mail"
  if ! running dovecot; then
    # IMAP (Debian's dovecot-imapd) on 127.0.0.1:10143 over that Maildir: any user name, one password.
    mkdir -p "$T/dovecot"
    cat > "$T/dovecot/dovecot.conf" <<CONF
base_dir = $T/dovecot/run
state_dir = $T/dovecot/state
log_path = $T/dovecot/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 100
passdb {
  driver = static
  args = password=mail-rehearsal-pw
}
userdb {
  driver = static
  args = uid=$TUSER gid=$TUSER home=$T/dovecot/home mail=maildir:$T/mail
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = 10143
  }
  inet_listener imaps {
    port = 0
  }
}
CONF
    nohup timeout 14400 dovecot -F -c "$T/dovecot/dovecot.conf" </dev/null >"$T/dovecot/stderr.log" 2>&1 9>&- &
    echo $! > "$T/dovecot.pid"
  fi
  if ! running s3; then
    # The off-site backups' S3 (moto's server, from PyPI: python3 -m pip install "moto[server]"): the S3 API
    # on 127.0.0.1:15000, bucket jaraba-backups. moto does not check signatures; golive and backup.sh sign
    # their requests (SigV4) as they would for AWS.
    nohup timeout 14400 python3 -m moto.server -H 127.0.0.1 -p 15000 </dev/null >"$T/s3.log" 2>&1 9>&- &
    echo $! > "$T/s3.pid"
  fi
  if ! running smtp; then
    nohup timeout 14400 /usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:8025 -c aiosmtpd.handlers.Mailbox "$T/mail" \
      </dev/null >"$T/smtp.log" 2>&1 9>&- &
    echo $! > "$T/smtp.pid"
  fi
  i=0
  until curl -fsS http://127.0.0.1:9091/-/ready >/dev/null 2>&1 && curl -fsS http://127.0.0.1:12111/_golive/requests >/dev/null 2>&1 && curl -fsS http://127.0.0.1:18090/_golive/requests >/dev/null 2>&1 \
      && curl -fsS http://127.0.0.1:15000/ >/dev/null 2>&1; do
    i=$((i+1)); [ $i -gt 400 ] && { echo "the doubles did not start:" >&2; cat "$T/doubles.log" "$T/s3.log" >&2; exit 1; }
    sleep 0.05
  done
  reset_services
}

# The doubles as production should look on Friday and Saturday: Stripe live with products, a webhook
# endpoint, a Starter subscription from before the go-live (the smoke test's checkout must make its own) and
# the Connect split of the smoke tests; vendor defaults.
reset_services() {
  now=$(date +%s)
  rm -f "$T/mail/new/"* "$T/mail/cur/"* 2>/dev/null || true
  # An empty off-site bucket.
  curl -fsS -X POST http://127.0.0.1:15000/moto-api/reset >/dev/null
  printf 'user = "%s:%s"\n' "$S3_KEY_ID" "$S3_SECRET" | curl -fsS -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" --config - \
    http://127.0.0.1:15000/jaraba-backups >/dev/null
  curl -fsS -X POST -H 'Content-Type: application/json' http://127.0.0.1:12111/_golive/state --data-binary @- >/dev/null <<JSON
{"keys": ["sk_live_golive_rehearsal_0001"], "livemode": true, "objects": {
  "product": [{"id": "prod_starter", "name": "Starter"}, {"id": "prod_pro", "name": "Pro"}, {"id": "prod_enterprise", "name": "Enterprise"}],
  "price": [{"id": "price_starter_monthly", "product": "prod_starter", "unit_amount": 2900}],
  "webhook_endpoint": [{"url": "https://app.jarabaimpact.com/stripe/webhook", "status": "enabled"}],
  "subscription": [{"id": "sub_before_golive", "status": "active", "created": $((now - 3600)), "items": {"data": [{"price": {"id": "price_starter_monthly"}}]}}],
  "event": [{"id": "evt_rehearsal", "type": "checkout.session.completed", "created": $now}],
  "charge": [{"id": "ch_agro_split", "amount": 1000, "status": "succeeded", "created": $now, "application_fee_amount": 150,
              "transfer": "tr_agro_split", "transfer_data": {"destination": "acct_agroconecta_productor"}}],
  "transfer": [{"id": "tr_agro_split", "amount": 850, "destination": "acct_agroconecta_productor"}]}}
JSON
  curl -fsS -X POST -H 'Content-Type: application/json' http://127.0.0.1:18090/_golive/state --data-binary '{}' >/dev/null
  cat > "$T/rehearsal.env" <<ENV
STRIPE_SECRET_KEY=sk_live_golive_rehearsal_0001
CLOUDFLARE_API_TOKEN=cf-token-golive-0001
ANTHROPIC_API_KEY=sk-ant-golive-double-0001
ACTIVECAMPAIGN_API_TOKEN=ac-token-golive-0001
ADMIN_PASSWORD=correct-horse-battery
SLACK_WEBHOOK_URL=http://127.0.0.1:18090/hooks/slack
TWILIO_AUTH_TOKEN=twilio-token-golive-01
PAGERDUTY_ROUTING_KEY=pd-routing-golive-0001
MYSQL_ROOT_PASSWORD=rehearsal-root-pw
MAIL_PASSWORD=mail-rehearsal-pw
STRIPE_WEBHOOK_SECRET=whsec_golive_rehearsal_0001
AWS_ACCESS_KEY_ID=$S3_KEY_ID
AWS_SECRET_ACCESS_KEY=$S3_SECRET
ENV
  chmod 644 "$T/rehearsal.env"
}

stop_services() {
  for s in doubles nginx mariadb postgres dnsmasq prometheus node-exporter smtp dovecot s3 helper; do
    if running "$s"; then kill "$(cat "$T/$s.pid")" 2>/dev/null || true; fi
    rm -f "$T/$s.pid"
  done
}

# A developer who brought the test bed up with sudo runs the tests and the rehearsal as themself: the
# client key (ssh wants it private to its reader; root reads it all the same) and the lock become theirs,
# and the helper, running as root, resets the stack for them.
grant_developer() {
  dev=${SUDO_USER:-}
  [ -n "$dev" ] && [ "$dev" != root ] || return 0
  chown "$dev" "$D/client_ed25519" "$T/.lock"
  if running helper; then kill "$(cat "$T/helper.pid")"; fi
  rm -f "$T/helper.sock"
  nohup python3 "$HERE/helper.py" "$T/helper.sock" "$HERE/testbed.sh" "$(id -u "$dev")" </dev/null >"$T/helper.log" 2>&1 9>&- &
  echo $! > "$T/helper.pid"
  i=0
  until [ -S "$T/helper.sock" ]; do
    i=$((i+1)); [ $i -gt 100 ] && { echo "the reset helper did not start:" >&2; cat "$T/helper.log" >&2; exit 1; }
    sleep 0.05
  done
}

watchdog() {
  [ -f "$T/watchdog.pid" ] && kill -0 "$(cat "$T/watchdog.pid")" 2>/dev/null && return 0
  nohup sh -c "sleep 14400; GOLIVE_TESTBED=$T '$HERE/testbed.sh' down" </dev/null >/dev/null 2>&1 9>&- &
  echo $! > "$T/watchdog.pid"
}

# fault NAME: production broken in one way a runbook item must see (`reset` puts it right); the knob matrix
# (tests/stack.rs) holds each to the items it must turn red and no other.
fault() {
  vendors() { curl -fsS -X POST -H 'Content-Type: application/json' http://127.0.0.1:18090/_golive/state --data-binary "$1" >/dev/null; }
  sql() { mariadb --no-defaults --socket="$T/mariadb/mysqld.sock" -uroot jaraba -e "$1"; }
  case "$1" in
    waf-off) vendors '{"waf_enabled": false}' ;;                     # Cloudflare WAF active
    dns-record-gone) vendors '{"records": []}' ;;                     # Cloudflare DNS record
    lists-gone) vendors '{"lists": ["Newsletter"]}' ;;                # ActiveCampaign lists
    claude-key-revoked) vendors '{"anthropic_key": "sk-ant-revoked-0000"}' ;;  # Claude API key
    qdrant-down) vendors '{"qdrant_ready": false}' ;;                 # Qdrant ready
    staging-backup-truncated) printf 'truncated' > "$P/staging/latest.sql.gz" ;;  # staging backup verified
    app-test-key) sed -i 's/^STRIPE_SECRET_KEY=.*/STRIPE_SECRET_KEY=sk_test_application_0001/' "$P/.env" ;;  # .env
    demo-data) sql "INSERT INTO users VALUES (99, 'demo_buyer', 'buyer@jarabaimpact.com', 1)" ;;  # 2.3 demo data
    admin-role-gone) sql "DELETE FROM user__roles" ;;                 # 2.3 administrators
    content-short) sql "DELETE FROM node WHERE type = 'producto' AND nid > 30" ;;  # 2.3 initial content
    *) echo "unknown fault '$1'; known: waf-off dns-record-gone lists-gone claude-key-revoked qdrant-down" \
         "staging-backup-truncated app-test-key demo-data admin-role-gone content-short" >&2; exit 2 ;;
  esac
}

case "${1:-up}" in
  fault) fault "${2:?fault name}" ;;
  up)
    setup_users
    [ -f "$D/sshd_config" ] || setup_sshd
    start_sshd
    start_fleet
    build_images
    start_mariadb
    start_postgres
    [ -f "$P/docker-compose.yml" ] && docker inspect golivebed_drupal_1 >/dev/null 2>&1 || reset_stack
    start_services
    grant_developer
    watchdog
    echo "testbed up: ssh -F $D/ssh_config golive-testbed; project $P; site http://127.0.0.1:18080/"
    ;;
  reset) reset_stack; reset_services ;;
  # The release the next deploy starts: new (the default after a reset), backup, broken (answers 500) or
  # janky (CLS and INP over their targets in a browser).
  release) docker tag "golive/fake-drupal:${2:?release name}-$(cat "$T/image.hash")" jaraba/drupal:11-prod ;;
  down)
    [ -d "$P" ] && (cd "$P" && docker-compose down -t 1 >/dev/null 2>&1 || true)
    if sshd_running; then kill "$(cat "$D/sshd.bgpid")"; rm -f "$D/sshd.bgpid"; fi
    stop_fleet
    stop_services
    ;;
  status) sshd_running && echo "sshd up" || echo "sshd down"; docker images jaraba/drupal ;;
  *) echo "usage: $0 up|reset|release NAME|fault NAME|down|status" >&2; exit 2 ;;
esac
