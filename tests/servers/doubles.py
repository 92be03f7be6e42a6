#!/usr/bin/env python3
"""Test doubles golive's tests and the rehearsal talk to, all on 127.0.0.1 (Python standard library only).

  site     a Drupal-like site: /, /user/login (form, redirect + session cookie), /dashboard, /status/N,
           /slow?ms=N, /json, /malformed, /echo, and two pages for browsers: /vitals/clean and /vitals/janky
           (a late banner without a size: a layout shift; a button whose handler blocks for 350 ms);
           over HTTP and, given a certificate, HTTPS
  stripe   a Stripe API double: answers start from Stripe's published fixtures3.json, and any request whose
           path, method or parameter is not in Stripe's OpenAPI spec gets HTTP 400 in Stripe's error shape
  vendors  Cloudflare (/cloudflare/client/v4), Anthropic (/anthropic/v1), ActiveCampaign (/activecampaign/api/3)
           and Qdrant (/qdrant), answering like the documented APIs

State is changed by tests through POST /_golive/state (JSON) on the stripe and vendors servers, and
GET /_golive/requests lists what the server received. POST /v1/subscriptions creates an active subscription
(created now), as a checkout that needs no payment action does. The process exits when its stdin closes (the parent
died) or after --ttl seconds, so nothing outlives a test run.

Usage: doubles.py [--site-http PORT] [--site-https PORT --cert F --key F] [--stripe PORT] [--vendors PORT]
Port 0 picks a free port; the chosen ports are printed as one JSON line on stdout.
"""

import argparse
import base64
import copy
import gzip
import json
import os
import re
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
STRIPE_DATA = os.path.join(HERE, "..", "fixtures", "stripe")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "golive-double/1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: without this, delayed ACKs add 40 ms

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/json", headers=()):
        data = body if isinstance(body, bytes) else (
            json.dumps(body) if not isinstance(body, str) else body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def body_bytes(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def split(self):
        parsed = urllib.parse.urlsplit(self.path)
        return parsed.path, urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)

    def do_GET(self):
        self.route()

    def do_HEAD(self):
        self.route()

    def do_POST(self):
        self.route()

    def do_PUT(self):
        self.route()

    def do_DELETE(self):
        self.route()


# ---------------------------------------------------------------------------------------------------- site

SESSIONS = set()


def vitals_page(janky):
    """A page with known vitals. The janky one's banner has no size and arrives 400 ms late, after the text
    was painted: the content below it moves 480 px down (CLS about 0.3, before any input); its #menu
    button blocks the main thread 350 ms per click (INP over 350 ms). The clean one reserves the banner's
    room and answers clicks at once."""
    banner = "<img src=/vitals/banner.svg?ms=400 alt=banner>" if janky else \
        "<img src=/vitals/banner.svg width=1200 height=480 alt=banner>"
    block = "var t = Date.now(); while (Date.now() - t < 350) {}" if janky else ""
    paragraphs = "".join(f"<p>Oferta {i}: empleo, comercio local y emprendimiento rural.</p>" for i in range(12))
    return (f"<html><head><title>Vitals</title></head><body><button id=menu type=button>Menú</button>"
            f"<nav id=nav hidden>Inicio</nav>{banner}<main><h1>Ofertas</h1>{paragraphs}</main>"
            f"<script>document.getElementById('menu').addEventListener('click', function () {{ {block} "
            f"var n = document.getElementById('nav'); n.hidden = !n.hidden; }});</script></body></html>")


BANNER = ("<svg xmlns='http://www.w3.org/2000/svg' width='1200' height='480'><rect width='1200' height='480' "
          "fill='#2f6f4f'/></svg>")


class Site(Handler):
    def route(self):
        path, query = self.split()
        q = dict(query)
        cookie = self.headers.get("Cookie", "")
        logged_in = any(c.strip().split("=", 1)[-1] in SESSIONS for c in cookie.split(";") if "=" in c)
        if path == "/":
            return self.reply(200, "<html><title>Jaraba Impact Platform</title><h1>Bienvenido</h1></html>", "text/html")
        if path == "/vitals/banner.svg":
            time.sleep(int(q.get("ms", "0")) / 1000)
            return self.reply(200, BANNER, "image/svg+xml")
        if path in ("/vitals/clean", "/vitals/janky"):
            return self.reply(200, vitals_page(path.endswith("janky")), "text/html")
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            return self.reply(code, f"status {code} from the test site", "text/plain")
        if path == "/slow":
            time.sleep(int(q.get("ms", "100")) / 1000)
            return self.reply(200, "slow answer", "text/plain")
        if path == "/search":
            keys = q.get("keys", "")
            return self.reply(200, f"<h1>Resultados para {keys}</h1><ol><li>{keys} ecológico</li></ol>", "text/html")
        if path == "/json":
            return self.reply(200, {"ok": True, "items": [1, 2, 3], "name": "jaraba"})
        if path == "/malformed":
            return self.reply(200, '{"ok": tru', "application/json")
        if path == "/redirect":
            return self.reply(301, "", "text/plain", [("Location", "/")])
        if path == "/echo":
            body = self.body_bytes().decode()
            return self.reply(200, {"method": self.command, "query": q, "body": body,
                                    "headers": {k.lower(): v for k, v in self.headers.items()}})
        if path == "/user/login" and self.command == "POST":
            form = dict(urllib.parse.parse_qsl(self.body_bytes().decode()))
            if form.get("name") == "admin" and form.get("pass") == "correct-horse-battery":
                token = base64.b16encode(os.urandom(8)).decode()
                SESSIONS.add(token)
                return self.reply(303, "", "text/plain", [("Location", "/dashboard"),
                                                          ("Set-Cookie", f"SESSabc={token}; Path=/; HttpOnly")])
            return self.reply(200, "<div class=messages--error>Unrecognized username or password.</div>", "text/html")
        if path == "/user/login":
            return self.reply(200, "<title>Log in</title><form id=user-login-form method=post action=/user/login>"
                                   "<input id=edit-name name=name><input id=edit-pass name=pass type=password>"
                                   "<button id=edit-submit type=submit>Log in</button></form>", "text/html")
        if path == "/dashboard":
            if logged_in:
                return self.reply(200, "<title>Dashboard</title><h1 class=dashboard>Dashboard</h1>", "text/html")
            return self.reply(302, "", "text/plain", [("Location", "/user/login")])
        return self.reply(404, "Page not found", "text/plain")


# ---------------------------------------------------------------------------------------------------- stripe

class StripeState:
    def __init__(self):
        with open(os.path.join(STRIPE_DATA, "fixtures3.json")) as f:
            self.fixtures = json.load(f)["resources"]
        with gzip.open(os.path.join(STRIPE_DATA, "openapi.spec3.json.gz")) as f:
            spec = json.load(f)
        self.routes = []
        for template, ops in spec["paths"].items():
            pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
            allowed = {}
            for method, op in ops.items():
                if method not in ("get", "post", "delete"):
                    continue
                names = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
                form = op.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded", {})
                names |= set(form.get("schema", {}).get("properties", {}).keys())
                allowed[method.upper()] = names
            self.routes.append((re.compile(pattern), template, allowed))
        self.lock = threading.Lock()
        self.reset({})

    def reset(self, config):
        self.keys = set(config.get("keys", ["sk_test_golive_double_0001"]))
        self.livemode = config.get("livemode")
        self.rate_limit_next = int(config.get("rate_limit_next", 0))
        self.requests = []
        self.objects = {}
        seed = config.get("objects", {})
        for kind in ("account", "balance", "product", "price", "webhook_endpoint", "event", "subscription",
                     "charge", "transfer"):
            items = seed.get(kind)
            if items is None:
                items = [{}]
            self.objects[kind] = [self.make(kind, i, o) for i, o in enumerate(items)]

    def make(self, kind, index, overrides):
        obj = copy.deepcopy(self.fixtures[kind])
        if "id" in obj:
            obj["id"] = f"{obj['id']}_{index}" if index else obj["id"]
        if "created" in obj:
            obj["created"] = 1_700_000_000 + index
        deep_merge(obj, overrides)
        return obj

    def create_subscription(self, params):
        """POST /v1/subscriptions as Stripe answers a subscription that needs no payment action: active,
        created now, its items' prices expanded."""
        price = params.get("items[0][price]", "")
        obj = self.make("subscription", len(self.objects["subscription"]), {})
        obj.update({"id": "sub_" + base64.b16encode(os.urandom(6)).decode().lower(), "status": "active",
                    "created": int(time.time()), "customer": params.get("customer", obj.get("customer"))})
        obj["items"] = {"object": "list", "data": [{"price": {"id": price}}]}
        self.objects["subscription"].append(obj)
        return obj

    def route(self, method, path):
        for pattern, template, allowed in self.routes:
            if pattern.match(path):
                return template, allowed
        return None, None


def deep_merge(base, extra):
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_merge(base[k], v)
        else:
            base[k] = v


def stripe_error(message, kind="invalid_request_error", code=None, param=None):
    error = {"message": message, "type": kind}
    if code:
        error["code"] = code
    if param:
        error["param"] = param
    return {"error": error}


PLURALS = {"products": "product", "prices": "price", "webhook_endpoints": "webhook_endpoint", "events": "event",
           "subscriptions": "subscription", "charges": "charge", "transfers": "transfer", "accounts": "account"}


class Stripe(Handler):
    state = None

    def route(self):
        st = self.state
        path, query = self.split()
        if path.startswith("/_golive/"):
            return self.control(path)
        raw = self.body_bytes().decode()
        params = query + urllib.parse.parse_qsl(raw, keep_blank_values=True)
        with st.lock:
            st.requests.append({"method": self.command, "path": path, "params": params,
                                "stripe_version": self.headers.get("Stripe-Version")})
            limited = st.rate_limit_next > 0
            if limited:
                st.rate_limit_next -= 1
        key = self.api_key()
        if key is None:
            return self.reply(401, stripe_error("You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."))
        if key not in st.keys:
            return self.reply(401, stripe_error(f"Invalid API Key provided: {key[:8]}****{key[-4:]}"))
        if limited:
            return self.reply(429, stripe_error("Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.", code="rate_limit"))
        template, allowed = st.route(self.command, path)
        if template is None:
            return self.reply(400, stripe_error(f"Unrecognized request URL ({self.command}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."))
        if self.command not in allowed:
            return self.reply(400, stripe_error(f"Unrecognized request URL ({self.command}: {path}). {path} does not accept {self.command}."))
        for name, _ in params:
            base = name.split("[", 1)[0]
            if base not in allowed[self.command]:
                return self.reply(400, stripe_error(f"Received unknown parameter: {base}", param=base))
        livemode = st.livemode if st.livemode is not None else key.startswith(("sk_live_", "rk_live_"))
        if self.command == "POST" and path == "/v1/subscriptions":
            with st.lock:
                answer = st.create_subscription(dict(params))
            return self.reply(200, with_livemode(strip_hidden(answer), livemode))
        answer = self.answer(path, dict(params), params)
        if answer is None:
            return self.reply(404, stripe_error(f"No such object: '{path.rsplit('/', 1)[-1]}'", code="resource_missing"))
        return self.reply(200, with_livemode(answer, livemode))

    def api_key(self):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:].strip() or None
        if auth.startswith("Basic "):
            return base64.b64decode(auth[6:]).decode().split(":", 1)[0] or None
        return None

    def control(self, path):
        st = self.state
        if path == "/_golive/state" and self.command == "POST":
            with st.lock:
                st.reset(json.loads(self.body_bytes() or b"{}"))
            return self.reply(200, {"ok": True})
        if path == "/_golive/requests":
            with st.lock:
                return self.reply(200, st.requests)
        return self.reply(404, {"error": "unknown control path"})

    def answer(self, path, params, pairs):
        st = self.state
        parts = path.strip("/").split("/")[1:]
        if parts == ["account"]:
            return st.objects["account"][0]
        if parts == ["balance"]:
            return st.objects["balance"][0]
        kind = PLURALS.get(parts[0]) if parts else None
        if kind is None:
            return None
        if len(parts) == 2:
            return next((o for o in st.objects[kind] if o.get("id") == parts[1]), None)
        items = [o for o in st.objects[kind] if matches(kind, o, params)]
        items.sort(key=lambda o: (o.get("created", 0), o.get("id", "")), reverse=True)
        if "starting_after" in params:
            ids = [o.get("id") for o in items]
            if params["starting_after"] not in ids:
                return None
            items = items[ids.index(params["starting_after"]) + 1:]
        limit = int(params.get("limit", 10))
        page = items[:limit]
        return {"object": "list", "url": path, "has_more": len(items) > limit,
                "data": [strip_hidden(o) for o in page]}


def matches(kind, obj, params):
    if "active" in params and str(obj.get("active")).lower() != params["active"]:
        return False
    if "type" in params and obj.get("type") != params["type"]:
        return False
    if "status" in params and obj.get("status") != params["status"]:
        return False
    if "created[gte]" in params and obj.get("created", 0) < int(params["created[gte]"]):
        return False
    if "delivery_success" in params:
        delivered = obj.get("__delivery_success", True)
        if str(delivered).lower() != params["delivery_success"]:
            return False
    if "price" in params and kind == "subscription":
        ids = [i.get("price", {}).get("id") for i in obj.get("items", {}).get("data", [])]
        if params["price"] not in ids:
            return False
    return True


def strip_hidden(obj):
    return {k: v for k, v in obj.items() if not k.startswith("__")}


def with_livemode(value, livemode):
    if isinstance(value, dict):
        return {k: (livemode if k == "livemode" else with_livemode(v, livemode)) for k, v in strip_hidden(value).items()}
    if isinstance(value, list):
        return [with_livemode(v, livemode) for v in value]
    return value


# ---------------------------------------------------------------------------------------------------- vendors

VENDOR_DEFAULTS = {
    "cloudflare_token": "cf-token-golive-0001",
    "zone": "jarabaimpact.com",
    "records": [{"type": "A", "name": "app.jarabaimpact.com", "content": "203.0.113.10", "proxied": True, "ttl": 1}],
    "waf_enabled": True,
    "anthropic_key": "sk-ant-golive-double-0001",
    "models": ["claude-sonnet-4-5", "claude-haiku-4-5"],
    "activecampaign_token": "ac-token-golive-0001",
    "lists": ["Beta testers", "Newsletter", "Clientes"],
    "qdrant_ready": True,
    "twilio_sid": "AC00000000000000000000000000golive",
    "twilio_token": "twilio-token-golive-01",
    "qdrant_key": "",
}

MANAGED_RULESET = "efb7b8c949ac4650a09736fc376e9aee"


class Vendors(Handler):
    state = dict(VENDOR_DEFAULTS)
    seen = []
    hooks = []

    def route(self):
        path, query = self.split()
        q = dict(query)
        Vendors.seen.append({"method": self.command, "path": path, "query": q})
        if path == "/_golive/state" and self.command == "POST":
            Vendors.state = dict(VENDOR_DEFAULTS)
            Vendors.state.update(json.loads(self.body_bytes() or b"{}"))
            Vendors.seen = []
            Vendors.hooks = []
            return self.reply(200, {"ok": True})
        if path == "/_golive/requests":
            return self.reply(200, Vendors.seen)
        if path == "/_golive/hooks":
            return self.reply(200, Vendors.hooks)
        if path.startswith("/hooks/"):
            # A webhook receiver (Slack's incoming webhooks answer 200 "ok"); /hooks/fail always fails.
            body = self.body_bytes().decode()
            if path == "/hooks/fail":
                return self.reply(500, "internal error", "text/plain")
            Vendors.hooks.append({"path": path, "body": body})
            return self.reply(200, "ok", "text/plain")
        for prefix, handler in (("/twilio/2010-04-01", self.twilio), ("/cloudflare/client/v4", self.cloudflare), ("/anthropic", self.anthropic),
                                ("/activecampaign", self.activecampaign), ("/qdrant", self.qdrant)):
            if path.startswith(prefix):
                return handler(path[len(prefix):], q)
        return self.reply(404, {"error": "no such vendor"})

    def cf(self, status, result=None, errors=(), result_info=None):
        body = {"success": not errors, "errors": list(errors), "messages": [], "result": result}
        if result_info:
            body["result_info"] = result_info
        return self.reply(status, body)

    def cloudflare(self, path, q):
        s = Vendors.state
        if self.headers.get("Authorization", "") != f"Bearer {s['cloudflare_token']}":
            return self.cf(401 if path == "/user/tokens/verify" else 403, None, [{"code": 1000, "message": "Invalid API Token"}])
        if path == "/user/tokens/verify":
            return self.reply(200, {"success": True, "errors": [], "messages": [{"code": 10000, "message": "This API Token is valid and active", "type": None}],
                                    "result": {"id": "ed17574386854bf78a67040be0a770b0", "status": "active"}})
        zone_id = "023e105f4ecef8ad9ca31a8372d0c353"
        if path == "/zones":
            zones = [{"id": zone_id, "name": s["zone"], "status": "active"}] if q.get("name", s["zone"]) == s["zone"] else []
            return self.cf(200, zones, result_info={"page": 1, "per_page": 20, "count": len(zones), "total_count": len(zones)})
        if path == f"/zones/{zone_id}/dns_records":
            records = [dict(r, id=f"rec{i}", zone_id=zone_id) for i, r in enumerate(s["records"])
                       if r["type"] == q.get("type", r["type"]) and r["name"] == q.get("name", r["name"])]
            return self.cf(200, records, result_info={"page": 1, "per_page": 100, "count": len(records), "total_count": len(records)})
        if path == f"/zones/{zone_id}/rulesets/phases/http_request_firewall_managed/entrypoint":
            rules = [{"id": "rule1", "action": "execute", "action_parameters": {"id": MANAGED_RULESET},
                      "expression": "true", "description": "Execute Cloudflare Managed Ruleset", "enabled": s["waf_enabled"]}]
            return self.cf(200, {"id": "entry1", "name": "zone", "kind": "zone", "phase": "http_request_firewall_managed", "rules": rules})
        return self.cf(404, None, [{"code": 7003, "message": "Could not route to " + path + ", perhaps your object identifier is invalid?"}])

    def twilio(self, path, q):
        # Twilio's Messages API: POST /Accounts/{sid}/Messages.json, form To/From/Body, basic auth sid:token.
        s = Vendors.state
        sid = path.split("/")[2] if path.count("/") >= 3 else ""
        expected = "Basic " + base64.b64encode(f"{s['twilio_sid']}:{s['twilio_token']}".encode()).decode()
        if self.headers.get("Authorization") != expected or sid != s["twilio_sid"]:
            return self.reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
        form = dict(urllib.parse.parse_qsl(self.body_bytes().decode()))
        if not form.get("To") or not form.get("Body"):
            return self.reply(400, {"code": 21604, "message": "A 'To' phone number is required.", "status": 400})
        Vendors.hooks.append({"path": "/twilio/messages", "body": json.dumps(form)})
        return self.reply(201, {"sid": "SM" + "0" * 32, "status": "queued", "to": form["To"], "body": form["Body"]})

    def anthropic(self, path, q):
        s = Vendors.state
        if self.headers.get("x-api-key") != s["anthropic_key"]:
            return self.reply(401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})
        if not self.headers.get("anthropic-version"):
            return self.reply(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "anthropic-version: header is required"}})
        if path == "/v1/models":
            data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-09-29T00:00:00Z"} for m in s["models"]]
            return self.reply(200, {"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                                    "last_id": data[-1]["id"] if data else None})
        if path == "/v1/messages" and self.command == "POST":
            # The Messages API's shape (docs.anthropic.com, "Messages"): one text block answering the last
            # user message; state "anthropic_down" makes it answer 529 overloaded_error.
            if s.get("anthropic_down"):
                return self.reply(529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
            request = json.loads(self.body_bytes() or b"{}")
            question = (request.get("messages") or [{}])[-1].get("content", "")
            if request.get("model") not in s["models"] or not question:
                return self.reply(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "model and messages are required"}})
            text = f"Para {question[:60].rstrip('?')}: empieza por el diagnóstico de negocio."
            return self.reply(200, {"id": "msg_golive_double", "type": "message", "role": "assistant", "model": request["model"],
                                    "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                                    "usage": {"input_tokens": 12, "output_tokens": 14}})
        return self.reply(404, {"type": "error", "error": {"type": "not_found_error", "message": "Not found"}})

    def activecampaign(self, path, q):
        s = Vendors.state
        if self.headers.get("Api-Token") != s["activecampaign_token"]:
            return self.reply(403, {"message": "No Result found for Subscriber with id 0"})
        if path == "/api/3/lists":
            limit, offset = int(q.get("limit", 20)), int(q.get("offset", 0))
            lists = [{"id": str(i + 1), "name": n, "stringid": n.lower().replace(" ", "-")} for i, n in enumerate(s["lists"])]
            return self.reply(200, {"lists": lists[offset:offset + limit], "meta": {"total": str(len(lists))}})
        return self.reply(404, {"message": "Not Found"})

    def qdrant(self, path, q):
        s = Vendors.state
        if s["qdrant_key"] and self.headers.get("api-key") != s["qdrant_key"]:
            return self.reply(401, "Must provide an API key or an Authorization bearer token", "text/plain")
        if path in ("/healthz", "/livez"):
            return self.reply(200, "healthz check passed", "text/plain")
        if path == "/readyz":
            if s["qdrant_ready"]:
                return self.reply(200, "all shards are ready", "text/plain")
            return self.reply(503, "some shards are not ready", "text/plain")
        return self.reply(404, "Not Found", "text/plain")


# ---------------------------------------------------------------------------------------------------- main

class Server(ThreadingHTTPServer):
    # The default backlog of 5 drops SYNs when ten smoke checks connect at once (a 1 s retransmit each).
    request_queue_size = 128


def serve(handler, port, context=None):
    server = Server(("127.0.0.1", port), handler)
    server.daemon_threads = True
    if context:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--site-http", type=int)
    ap.add_argument("--site-https", type=int)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--stripe", type=int)
    ap.add_argument("--vendors", type=int)
    ap.add_argument("--ttl", type=float, default=4 * 3600)
    ap.add_argument("--detach", action="store_true", help="do not watch stdin (the test bed runs it in the background)")
    args = ap.parse_args()
    ports = {}
    if args.site_http is not None:
        ports["site_http"] = serve(Site, args.site_http)
    if args.site_https is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        ports["site_https"] = serve(Site, args.site_https, context)
    if args.stripe is not None:
        Stripe.state = StripeState()
        ports["stripe"] = serve(Stripe, args.stripe)
    if args.vendors is not None:
        ports["vendors"] = serve(Vendors, args.vendors)
    print(json.dumps(ports), flush=True)
    if not args.detach:
        threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    time.sleep(args.ttl)
    os._exit(0)


if __name__ == "__main__":
    main()
