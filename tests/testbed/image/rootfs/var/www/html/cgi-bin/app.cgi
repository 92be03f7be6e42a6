#!/bin/sh
# The stand-in Drupal application the rehearsal validates (busybox sh as a CGI of busybox httpd; nginx on the
# host terminates TLS and sends every path here as PATH_INFO). It serves what Saturday's smoke tests look at:
#   /                        home, with the site name, a banner, a menu button and the release ("release new")
#   /banner.svg              the home page's banner image
#   /user/login              GET the form; POST name/pass: 303 to /dashboard with a session cookie
#   /dashboard               200 with a session, else 302 to /user/login
#   /search/node?keys=K      Drupal core's node search: the indexed items matching K, or "no results"
#   /api/v1/health           JSON: {"status": "ok", "release": ..., "db": ...} (db: it asks the real MariaDB)
#   /api/v1/copilot          POST {"question": ...}: asks Claude (the test bed's Anthropic double), answers JSON
#   /stripe/webhook          POST a Stripe event: its signature checked, then recorded and logged as processed
#   /user/register           POST name/mail: a user row (status 0) and a welcome e-mail with Drupal 11's
#                            one-time login link, /user/reset/UID/TIMESTAMP/HASH
#   /user/reset/UID/TS/HASH  as Drupal's user_pass_reset: the one-time login form (id "user-pass-reset")
#                            for a valid link, else a redirect to /user/password; POST .../login activates
#                            and logs the user in, 302 to /user/UID/edit?pass-reset-token=...
#   /contacto                Drupal's contact form: a POST without the form_build_id its GET handed out only
#                            rebuilds the form (as Drupal's Form API does); with it, a "Hemos recibido tu
#                            mensaje" e-mail and the status message
#   /precios, /checkout      the Starter plan; POST /checkout creates the subscription through Stripe's API
#   the public pages         /empleabilidad, /agroconecta, /emprendimiento, /precios, /contacto, /blog, /legal/*
# Maintenance mode (drush state:set system.maintenance_mode 1) answers 503 everywhere. The release "broken"
# serves its home page (a cached page looks fine) but answers 500 with a PHP fatal error everywhere else,
# writing the error to the container's log; its health check stays green, as a real broken release's can.
# The release "janky" works but feels bad in a browser: its banner has no size and arrives late (the page
# shifts when it lands: CLS) and its menu button blocks the main thread for 350 ms per click (INP).
S=/state
release=$(cat /etc/golive-release)
path=${PATH_INFO:-/}
[ -n "$path" ] || path=/

urldecode() { printf '%b' "$(printf '%s' "$1" | sed 's/+/ /g; s/%\([0-9a-fA-F][0-9a-fA-F]\)/\\x\1/g')"; }
# param NAME QUERY: the decoded value of NAME in a form-encoded string.
param() { printf '%s\n' "$2" | tr '&' '\n' | while IFS= read -r kv; do [ "${kv%%=*}" = "$1" ] && { urldecode "${kv#*=}"; break; }; done; }
html_escape() { printf '%s' "$1" | sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g; s/"/\&quot;/g'; }
json_escape() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g' | tr -d '\000-\037'; }
reply() { # STATUS CONTENT-TYPE BODY [EXTRA-HEADER...]
  status=$1; type=$2; body=$3; shift 3
  printf 'Status: %s\r\nContent-Type: %s\r\n' "$status" "$type"
  for h in "$@"; do printf '%s\r\n' "$h"; done
  printf '\r\n%s\n' "$body"
  exit 0
}
# send_mail TO SUBJECT TEXT: one message through the SMTP server (.env SMTP_HOST, SMTP_PORT), spoken line by
# line over busybox nc (the image has no mail client).
send_mail() {
  [ -e $S/fault-mail ] && return 0   # the fault switch: the application "sends" nothing
  { printf 'HELO jaraba-app\r\n'; sleep 0.1
    printf 'MAIL FROM:<noreply@jarabaimpact.com>\r\n'; sleep 0.1
    printf 'RCPT TO:<%s>\r\n' "$1"; sleep 0.1
    printf 'DATA\r\n'; sleep 0.1
    printf 'From: Jaraba Impact <noreply@jarabaimpact.com>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n.\r\n' \
      "$1" "$2" "$(date -R)" "$3"; sleep 0.1
    printf 'QUIT\r\n'; sleep 0.1
  } | nc "${SMTP_HOST:-127.0.0.1}" "${SMTP_PORT:-25}" >/dev/null 2>&1
}
# hmac_sha256 KEY MESSAGE: hex HMAC-SHA256 (RFC 2104) with busybox's sha256sum.
hmac_sha256() {
  khex=$(printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n')
  while [ ${#khex} -lt 128 ]; do khex="${khex}00"; done
  ipad=""; opad=""; rest=$khex
  while [ -n "$rest" ]; do
    b=$((0x$(printf '%s' "$rest" | cut -c1-2))); rest=$(printf '%s' "$rest" | cut -c3-)
    ipad="$ipad$(printf '\\x%02x' $((b ^ 54)))"; opad="$opad$(printf '\\x%02x' $((b ^ 92)))"
  done
  inner=$({ printf "$ipad"; printf '%s' "$2"; } | sha256sum | cut -c1-64)
  { printf "$opad"; printf "$(printf '%s' "$inner" | sed 's/../\\x&/g')"; } | sha256sum | cut -c1-64
}
page() { reply "200 OK" "text/html; charset=utf-8" "<html><head><title>$1</title></head><body><h1>$1</h1>$2<p>release $release</p></body></html>"; }
body=""
[ "${REQUEST_METHOD:-GET}" = POST ] && [ "${CONTENT_LENGTH:-0}" -gt 0 ] && body=$(head -c "$CONTENT_LENGTH")

case "$path" in /api/v1/health) ;; *)
  if [ "$(cat $S/maintenance_mode 2>/dev/null)" = 1 ]; then
    reply "503 Service Unavailable" "text/html" "<title>Site under maintenance</title>"
  fi ;;
esac
if [ "$release" = broken ] && [ "$path" != / ]; then
  echo "PHP Fatal error:  Uncaught Error: Class \"Drupal\\jaraba_core\\TenantManager\" not found in /var/www/html/modules/custom/jaraba_core/src/Kernel.php:42 (request $path)" >&2
  reply "500 Internal Server Error" "text/html" "<title>Error</title><p>The website encountered an unexpected error. Try again later.</p>"
fi

name=$(cat $S/config/system.site.name 2>/dev/null || echo Drupal)
session=""
for c in $(printf '%s' "${HTTP_COOKIE:-}" | tr ';' ' '); do
  case "$c" in SESS*=*) t=${c#*=}; [ -n "$t" ] && [ -f "$S/sessions/$t" ] && session=$t ;; esac
done

case "$path" in
  /)
    banner="<img id=banner src=/banner.svg alt=Oferta width=1200 height=480>"
    menu="m.hidden = !m.hidden;"
    if [ "$release" = janky ]; then
      banner="<img id=banner src=/banner.svg?late=1 alt=Oferta>"
      menu="var t = Date.now(); while (Date.now() - t < 350) {} m.hidden = !m.hidden;"
    fi
    reply "200 OK" "text/html; charset=utf-8" "<html><head><title>$name</title><meta name=viewport content=\"width=device-width\"></head><body>
<header><button id=menu-toggle type=button>Menú</button><nav id=menu hidden><a href=/empleabilidad>Empleabilidad</a> <a href=/agroconecta>AgroConecta</a> <a href=/emprendimiento>Emprendimiento</a></nav></header>
$banner<main><h1>$name</h1><p>Bienvenido</p><p>Empleo, comercio local y emprendimiento para el mundo rural: una plataforma, tres verticales.</p><section><h2>Empleabilidad</h2><p>Ofertas de empleo, diagnóstico de competencias y formación.</p><h2>AgroConecta</h2><p>Productores y consumidores, sin intermediarios.</p><h2>Emprendimiento</h2><p>Diagnóstico de negocio, plan de digitalización y mentoría.</p></section><p>release $release</p></main>
<script>document.getElementById('menu-toggle').addEventListener('click', function () { var m = document.getElementById('menu'); $menu });</script>
</body></html>" ;;
  /banner.svg)
    case "${QUERY_STRING:-}" in *late=1*) sleep 0.4 ;; esac
    reply "200 OK" "image/svg+xml" "<svg xmlns='http://www.w3.org/2000/svg' width='1200' height='480'><rect width='1200' height='480' fill='#2f6f4f'/><text x='40' y='260' font-size='64' fill='white'>Jaraba Impact</text></svg>" ;;
  /user/login)
    if [ "${REQUEST_METHOD:-GET}" = POST ]; then
      if [ "$(param name "$body")" = "${ADMIN_USER:-admin}" ] && [ -n "${ADMIN_PASSWORD:-}" ] && [ "$(param pass "$body")" = "$ADMIN_PASSWORD" ]; then
        mkdir -p $S/sessions
        t=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
        : > "$S/sessions/$t"
        reply "303 See Other" "text/html" "" "Location: /dashboard" "Set-Cookie: SESS$release=$t; Path=/; HttpOnly"
      fi
      reply "200 OK" "text/html" "<div class=messages--error>Unrecognized username or password.</div>"
    fi
    page "Log in" "<form id=user-login-form method=post action=/user/login><label for=edit-name>Usuario</label> <input id=edit-name name=name> <label for=edit-pass>Contraseña</label> <input id=edit-pass name=pass type=password> <button id=edit-submit type=submit>Iniciar sesión</button></form>" ;;
  /dashboard)
    [ -n "$session" ] || reply "302 Found" "text/html" "" "Location: /user/login"
    page "Dashboard" "<p class=dashboard>Tenants, plans and usage</p>" ;;
  /search)
    # Drupal's search route sends the visitor to the default search page.
    reply "302 Found" "text/html" "" "Location: /search/node${QUERY_STRING:+?$QUERY_STRING}" ;;
  /search/node)
    # As Drupal core's node search: the form with the term echoed, then the indexed items that match it
    # (the index `drush search-api:index` built on the real database), or "Your search yielded no results."
    raw=$(param keys "${QUERY_STRING:-}")
    keys=$(html_escape "$raw")
    # Letters, digits and spaces only reach the query (the stand-in's whole escaping).
    term=$(printf '%s' "$raw" | tr -cd 'A-Za-z0-9 ' | cut -c1-60)
    form="<form class=search-form action=/search/node method=get><input type=search name=keys value=\"$keys\"><button type=submit>Buscar</button></form>"
    items=""
    if [ -n "$term" ]; then
      items=$(MYSQL_PWD=${MYSQL_PASSWORD:-} /usr/bin/mariadb -N -B -u drupal jaraba \
        -e "SELECT nid, title, words FROM search_index WHERE words LIKE '%$term%' ORDER BY nid LIMIT 10" 2>/dev/null |
        while IFS="$(printf '\t')" read -r nid title words; do
          printf '<li><h3 class="search-result__title"><a href="/node/%s">%s</a></h3><p class="search-result__snippet">%s</p></li>' \
            "$nid" "$(html_escape "$title")" "$(html_escape "$words")"
        done)
    fi
    if [ -n "$items" ]; then
      page "Buscar" "$form<h2>Search results</h2><ol class=\"search-results node_search-results\">$items</ol>"
    fi
    page "Buscar" "$form<h3>Your search yielded no results.</h3><ul><li>Check if your spelling is correct.</li></ul>" ;;
  /api/v1/health)
    db=connected
    if [ -e $S/fault-db ] || ! MYSQL_PWD=${MYSQL_PASSWORD:-} /usr/bin/mariadb -u drupal jaraba -e 'SELECT 1' >/dev/null 2>&1; then db=unreachable; fi
    reply "200 OK" "application/json" "{\"status\": \"ok\", \"release\": \"$release\", \"db\": \"$db\"}" ;;
  /api/v1/copilot)
    question=$(printf '%s' "$body" | sed -n 's/.*"question" *: *"\([^"]*\)".*/\1/p')
    [ -n "$question" ] || reply "400 Bad Request" "application/json" '{"error": "question is required"}'
    answer=$(wget -q -O - --header "x-api-key: ${ANTHROPIC_API_KEY:-}" --header "anthropic-version: 2023-06-01" \
      --header "content-type: application/json" \
      --post-data "{\"model\": \"${ANTHROPIC_MODEL:-claude-sonnet-4-5}\", \"max_tokens\": 256, \"messages\": [{\"role\": \"user\", \"content\": \"$(json_escape "$question")\"}]}" \
      "${ANTHROPIC_API:-https://api.anthropic.com}/v1/messages" 2>/dev/null | sed -n 's/.*"text" *: *"\([^"]*\)".*/\1/p')
    [ -n "$answer" ] || reply "502 Bad Gateway" "application/json" '{"error": "the copilot could not reach Claude"}'
    reply "200 OK" "application/json" "{\"answer\": \"$answer\"}" ;;
  /stripe/webhook)
    # As Drupal's Stripe module does: the Stripe-Signature header checked against the endpoint's signing
    # secret (HMAC-SHA256 of "t.payload", five minutes' tolerance), then the event processed and logged.
    [ "${REQUEST_METHOD:-GET}" = POST ] || reply "405 Method Not Allowed" "text/plain" "POST only"
    sig=${HTTP_STRIPE_SIGNATURE:-}
    t=$(printf '%s' "$sig" | tr ',' '\n' | sed -n 's/^t=//p' | head -1)
    v1=$(printf '%s' "$sig" | tr ',' '\n' | sed -n 's/^v1=//p' | head -1)
    now=$(date +%s)
    if [ -z "$t" ] || [ -z "$v1" ] || [ -z "${STRIPE_WEBHOOK_SECRET:-}" ] \
       || [ "$v1" != "$(hmac_sha256 "$STRIPE_WEBHOOK_SECRET" "$t.$body")" ] \
       || [ $((now - t)) -gt 300 ] || [ $((t - now)) -gt 300 ]; then
      echo "Stripe webhook rejected: signature verification failed" >&2
      reply "400 Bad Request" "application/json" '{"error": "signature verification failed"}'
    fi
    id=$(printf '%s' "$body" | sed -n 's/^[^{]*{ *"id" *: *"\([^"]*\)".*/\1/p' | tr -cd 'A-Za-z0-9_')
    type=$(printf '%s' "$body" | sed -n 's/.*"type" *: *"\([^"]*\)".*/\1/p' | tr -cd 'a-z._')
    [ -n "$id" ] || reply "400 Bad Request" "application/json" '{"error": "not a Stripe event"}'
    printf '%s %s\n' "$now" "$id" >> $S/webhooks.log
    # As a Drupal module logs: to watchdog (dblog), which drush watchdog:show reads; and to the container's log.
    MYSQL_PWD=${MYSQL_PASSWORD:-} /usr/bin/mariadb -u drupal jaraba -e \
      "INSERT INTO watchdog (type, message, severity, timestamp) VALUES ('stripe', 'Webhook $id processed ($type)', 6, $now)" 2>/dev/null || true
    echo "Stripe webhook $id processed ($type)" >&2
    reply "200 OK" "application/json" '{"received": true}' ;;
  /user/register)
    if [ "${REQUEST_METHOD:-GET}" = POST ]; then
      name=$(param name "$body"); mail=$(param mail "$body")
      case "$name$mail" in *[!A-Za-z0-9@+._-]*|"") reply "400 Bad Request" "text/html" "<div class=messages--error>Nombre o correo no válido.</div>" ;; esac
      MYSQL_PWD=${MYSQL_PASSWORD:-} /usr/bin/mariadb -u drupal jaraba -e \
        "INSERT INTO users (uid, name, mail, status) SELECT MAX(uid) + 1, '$name', '$mail', 0 FROM users" || reply "500 Internal Server Error" "text/html" "<p>The website encountered an unexpected error.</p>"
      uid=$(MYSQL_PWD=${MYSQL_PASSWORD:-} /usr/bin/mariadb -N -B -u drupal jaraba -e "SELECT uid FROM users WHERE mail = '$mail' ORDER BY uid DESC LIMIT 1")
      ts=$(date +%s); t=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
      mkdir -p $S/reset; echo "$mail" > "$S/reset/$uid-$ts-$t"
      send_mail "$mail" "Verifica tu cuenta en Jaraba Impact" "Hola $name, gracias por registrarte. Puedes iniciar sesión con este enlace de un solo uso: ${APP_URL:-}/user/reset/$uid/$ts/$t"
      reply "303 See Other" "text/html" "" "Location: /user/register/done"
    fi
    page "Crear cuenta" "<form id=user-register-form method=post action=/user/register><label for=edit-name>Usuario</label> <input id=edit-name name=name> <label for=edit-mail>Correo</label> <input id=edit-mail name=mail type=email> <button id=edit-submit type=submit>Crear cuenta</button></form>" ;;
  /user/register/done) page "Revisa tu correo" "<p class=registered>Te hemos enviado un enlace de verificación.</p>" ;;
  /user/reset/*)
    # Drupal 11 core: GET shows the one-time login form; its submit goes to .../login (UserController::
    # resetPassLogin), which logs the user in and sends them to set a password. A used, unknown or
    # malformed link redirects to the password request page.
    rest=${path#/user/reset/}; uid=${rest%%/*}; rest=${rest#*/}; ts=${rest%%/*}; rest=${rest#*/}; t=${rest%%/*}
    case "$uid$ts$t" in *[!0-9a-f]*|"") reply "404 Not Found" "text/html" "<title>Page not found</title>" ;; esac
    [ -f "$S/reset/$uid-$ts-$t" ] || reply "302 Found" "text/html" "" "Location: /user/password"
    mail=$(cat "$S/reset/$uid-$ts-$t")
    case "$path" in
      */login)
        MYSQL_PWD=${MYSQL_PASSWORD:-} /usr/bin/mariadb -u drupal jaraba -e "UPDATE users SET status = 1 WHERE uid = $uid"
        rm -f "$S/reset/$uid-$ts-$t"
        reply "302 Found" "text/html" "" "Location: /user/$uid/edit?pass-reset-token=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')" ;;
    esac
    page "Restablecer contraseña" "<p>Este es un inicio de sesión de un solo uso para $mail.</p><form id=\"user-pass-reset\" method=post action=/user/reset/$uid/$ts/$t/login><button id=edit-submit type=submit>Iniciar sesión</button></form>" ;;
  /contacto)
    mkdir -p $S/forms
    if [ "${REQUEST_METHOD:-GET}" = POST ]; then
      build=$(param form_build_id "$body" | tr -cd 'a-z0-9-')
      if [ -n "$build" ] && [ -f "$S/forms/$build" ]; then
        rm -f "$S/forms/$build"
        mail=$(param mail "$body")
        case "$mail" in *[!A-Za-z0-9@+._-]*|"") reply "400 Bad Request" "text/html" "<div class=messages--error>Correo no válido.</div>" ;; esac
        send_mail "$mail" "Hemos recibido tu mensaje" "Gracias por escribirnos. Te responderemos en 24 horas. ${APP_URL:-}/contacto"
        page "$name: contacto" "<div class=\"messages--status\">Se ha enviado su mensaje.</div>"
      fi
    fi
    build="form-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"; : > "$S/forms/$build"
    page "$name: contacto" "<form id=\"contact-message-feedback-form\" method=post action=/contacto><input type=hidden name=form_build_id value=\"$build\"><input type=hidden name=form_id value=contact_message_feedback_form><label for=edit-mail>Correo</label> <input id=edit-mail name=mail type=email> <label for=edit-message>Mensaje</label> <textarea id=edit-message name=message></textarea> <button id=edit-submit type=submit>Enviar mensaje</button></form>" ;;
  /precios)
    page "$name: precios" "<p>Starter 29 €/mes</p><form id=checkout-form method=post action=/checkout><button id=subscribe-starter type=submit>Suscribirse al plan Starter</button></form>" ;;
  /checkout)
    # As Drupal's commerce_stripe does for a test card that needs no action: the subscription created
    # through Stripe's API (the test bed's Stripe double), then the confirmation page.
    [ "${REQUEST_METHOD:-GET}" = POST ] || reply "405 Method Not Allowed" "text/plain" "POST only"
    sub=$(wget -q -O - --header "Authorization: Bearer ${STRIPE_SECRET_KEY:-}" \
      --post-data "customer=cus_rehearsal&items%5B0%5D%5Bprice%5D=${STRIPE_STARTER_PRICE:-price_starter_monthly}" \
      "${STRIPE_API:-https://api.stripe.com}/v1/subscriptions" 2>/dev/null | sed -n 's/.*"id": *"\(sub_[A-Za-z0-9]*\)".*/\1/p' | head -1)
    if [ -z "$sub" ]; then
      echo "Stripe checkout failed: the subscription could not be created" >&2
      reply "502 Bad Gateway" "text/html" "<div class=messages--error>El pago no se pudo procesar.</div>"
    fi
    echo "Stripe checkout: subscription $sub created" >&2
    page "$name: suscripción" "<p class=checkout-done>Suscripción $sub activa</p>" ;;
  /empleabilidad|/agroconecta|/emprendimiento|/blog|/legal/privacidad|/legal/terminos)
    page "$name: ${path#/}" "<p>${path#/}</p>" ;;
  *) reply "404 Not Found" "text/html" "<title>Page not found</title>" ;;
esac
