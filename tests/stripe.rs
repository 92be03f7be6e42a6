//! The stripe module against the Stripe test double (tests/servers/doubles.py): its answers start from
//! Stripe's published fixtures3.json and it rejects, as Stripe does with HTTP 400, any path, method or
//! parameter that is not in Stripe's OpenAPI spec. Real Stripe is out of reach here; no real key is used.

use crate::common::doubles::{doubles, lock};
use crate::common::{Project, Run};

const TEST_KEY: &str = "sk_test_golive_double_0001";
const LIVE_KEY: &str = "sk_live_golive_double_0002";

fn project(key: &str) -> Project {
    let config = format!(
        "default_target = \"local\"\n[targets.local]\nkind = \"local\"\n[vars.stripe]\napi = \"{}\"\nkey_secret = \"STRIPE_SECRET_KEY\"\nretry_base_ms = 20\n",
        doubles().stripe_api()
    );
    let project = Project::with_config(&config);
    project.write(".env", &format!("STRIPE_SECRET_KEY={key}\n"));
    project
}

fn run_with(key: &str, body: &str) -> (Run, Project) {
    let project = project(key);
    project.write("t.rhai", &format!("step \"stripe\" {{\n{body}\n}}"));
    let run = project.golive(&["t.rhai"]);
    assert!(!run.all().contains(key), "the Stripe key reached the output:\n{}", run.all());
    assert!(!project.state_files().contains(key), "the Stripe key reached .golive/");
    (run, project)
}

fn requests(path: &str) -> Vec<serde_json::Value> {
    let all = doubles().stripe_requests();
    all.as_array().unwrap().iter().filter(|r| r["path"] == path).cloned().collect()
}

#[test]
fn stripe_double_lists_every_page_with_the_pinned_version() {
    let _g = lock();
    let products: Vec<String> = (0..150)
        .map(|i| format!(r#"{{"id": "prod_{i:03}", "name": "Plan {i}"}}"#))
        .chain((0..3).map(|i| format!(r#"{{"id": "prod_old_{i}", "active": false}}"#)))
        .collect();
    doubles()
        .stripe_state(&format!(r#"{{"keys": ["{TEST_KEY}"], "objects": {{"product": [{}]}}}}"#, products.join(",")));
    let (run, _p) = run_with(
        TEST_KEY,
        r#"
        let active = stripe::products(true);
        let retired = stripe::products(false);
        print(`active=${active.len()} retired=${retired.len()} first=${active[0].name} mode=${stripe::mode()}`);
    "#,
    );
    run.assert_code(0);
    assert!(run.stdout.contains("active=150 retired=3 first=Plan 149 mode=test"), "{}", run.all());
    let pages = requests("/v1/products");
    assert_eq!(pages.len(), 3, "two pages of active products, one of retired: {pages:?}");
    let second = &pages[1]["params"];
    assert!(second.as_array().unwrap().iter().any(|p| p[0] == "starting_after" && p[1] == "prod_050"), "{second}");
    for request in doubles().stripe_requests().as_array().unwrap() {
        assert_eq!(request["stripe_version"], golive::modules::stripe::STRIPE_VERSION, "{request}");
    }
}

#[test]
fn stripe_double_mode_needs_key_and_livemode_to_agree() {
    let _g = lock();
    doubles().stripe_state(&format!(r#"{{"keys": ["{TEST_KEY}", "{LIVE_KEY}"], "livemode": false}}"#));
    let (mismatch, _p) = run_with(LIVE_KEY, "print(stripe::mode());");
    mismatch.assert_code(1);
    assert!(
        mismatch.stderr.contains("the Stripe key is a live key but Stripe answered livemode=false"),
        "{}",
        mismatch.all()
    );

    let (test_mode, _p) = run_with(TEST_KEY, "stripe::require_live();");
    test_mode.assert_code(1);
    assert!(test_mode.stderr.contains("Stripe is in test mode, not live"), "{}", test_mode.all());

    doubles().stripe_state(&format!(r#"{{"keys": ["{LIVE_KEY}"], "livemode": true}}"#));
    let (live, _p) =
        run_with(LIVE_KEY, r#"print(`mode=${stripe::require_live()} charges=${stripe::account().charges_enabled}`);"#);
    live.assert_code(0);
    assert!(live.stdout.contains("mode=live charges="), "{}", live.all());
}

#[test]
fn stripe_double_401_and_429_are_handled() {
    let _g = lock();
    doubles().stripe_state(r#"{"keys": ["sk_test_some_other_key_9999"]}"#);
    let (denied, _p) = run_with(TEST_KEY, "stripe::account();");
    denied.assert_code(1);
    assert!(
        denied
            .stderr
            .contains("Stripe answered 401 to GET /v1/account: invalid_request_error: Invalid API Key provided"),
        "{}",
        denied.all()
    );
    doubles().stripe_state(&format!(r#"{{"keys": ["{TEST_KEY}"], "rate_limit_next": 2}}"#));
    let (limited, _p) = run_with(TEST_KEY, "print(`id=${stripe::account().id}`);");
    limited.assert_code(0);
    assert!(limited.stdout.contains("id=acct_"), "{}", limited.all());
    assert_eq!(requests("/v1/account").len(), 3, "two 429s, then the answer");

    doubles().stripe_state(&format!(r#"{{"keys": ["{TEST_KEY}"], "rate_limit_next": 10}}"#));
    let (gave_up, _p) = run_with(TEST_KEY, "stripe::account();");
    gave_up.assert_code(1);
    assert!(
        gave_up.stderr.contains("Stripe answered 429") && gave_up.stderr.contains("still rate limited"),
        "{}",
        gave_up.all()
    );
}

#[test]
fn stripe_double_filters_events_subscriptions_and_failed_payments() {
    let _g = lock();
    let state = r#"{"keys": ["sk_test_golive_double_0001"], "objects": {
        "event": [
            {"id": "evt_1", "type": "checkout.session.completed", "created": 1800000100},
            {"id": "evt_2", "type": "invoice.paid", "created": 1800000200, "__delivery_success": false},
            {"id": "evt_3", "type": "checkout.session.completed", "created": 1700000000}
        ],
        "subscription": [
            {"id": "sub_1", "status": "active", "created": 1800000100, "items": {"data": [{"price": {"id": "price_starter"}}]}},
            {"id": "sub_2", "status": "canceled", "created": 1800000100, "items": {"data": [{"price": {"id": "price_starter"}}]}},
            {"id": "sub_3", "status": "active", "created": 1800000100, "items": {"data": [{"price": {"id": "price_pro"}}]}}
        ],
        "charge": [
            {"id": "ch_1", "status": "succeeded", "created": 1800000001}, {"id": "ch_2", "status": "failed", "created": 1800000002},
            {"id": "ch_3", "status": "succeeded", "created": 1800000003}, {"id": "ch_4", "status": "succeeded", "created": 1800000004},
            {"id": "ch_5", "status": "failed", "created": 1700000000}
        ]}}"#;
    doubles().stripe_state(state);
    let (run, _p) = run_with(
        TEST_KEY,
        r#"
        let done = stripe::events(#{ type: "checkout.session.completed", since: 1800000000 });
        let undelivered = stripe::events(#{ delivery_success: false });
        let starter = stripe::subscriptions(#{ status: "active", price: "price_starter", since: 1800000000 });
        let rate = stripe::failed_payment_rate(1800000000);
        print(`events=${done.len()}:${done[0].id} undelivered=${undelivered.len()}:${undelivered[0].id} starter=${starter.len()}:${starter[0].id}`);
        print(`charges=${rate.total} failed=${rate.failed} rate=${rate.rate}`);
    "#,
    );
    run.assert_code(0);
    assert!(run.stdout.contains("events=1:evt_1 undelivered=1:evt_2 starter=1:sub_1"), "{}", run.all());
    assert!(run.stdout.contains("charges=4 failed=1 rate=0.25"), "{}", run.all());
    let events = requests("/v1/events");
    assert!(events[0]["params"].as_array().unwrap().iter().any(|p| p[0] == "created[gte]"), "{events:?}");

    let (typo, _p) = run_with(TEST_KEY, "stripe::events(#{ types: \"x\" });");
    typo.assert_code(1);
    assert!(
        typo.stderr.contains("`stripe::events` takes type, since, delivery_success in its options, not `types`"),
        "{}",
        typo.all()
    );
}

#[test]
fn stripe_double_verifies_a_connect_destination_split() {
    let _g = lock();
    doubles().stripe_state(
        r#"{"keys": ["sk_test_golive_double_0001"], "objects": {
        "charge": [{"id": "ch_split", "amount": 1000, "application_fee_amount": 150, "transfer": "tr_split", "transfer_data": {"destination": "acct_farmer"}},
                   {"id": "ch_wrong", "amount": 1000, "application_fee_amount": 100, "transfer": "tr_split", "transfer_data": {"destination": "acct_other"}}],
        "transfer": [{"id": "tr_split", "amount": 850, "destination": "acct_farmer"}]}}"#,
    );
    let (run, _p) = run_with(
        TEST_KEY,
        r#"
        let good = stripe::verify_split("ch_split", #{ fee: 150, destination: "acct_farmer" });
        print(`good=${good.ok} ${good.actual}`);
        let bad = stripe::verify_split("ch_wrong", #{ fee: 150, destination: "acct_farmer" });
        print(`bad=${bad.ok} ${bad.problems}`);
    "#,
    );
    run.assert_code(0);
    assert!(run.stdout.contains("good=true charge 1000, fee 150, to acct_farmer, transfer 850"), "{}", run.all());
    // The transfer of 850 is right for the expected fee of 150, so only the fee and destination are wrong.
    assert!(
        run.stdout.lines().any(|l| l
            == "bad=false application_fee_amount is 100, expected 150; destination is acct_other, expected acct_farmer"),
        "{}",
        run.all()
    );
    let (missing, _p) = run_with(TEST_KEY, r#"stripe::verify_split("ch_nope", #{ fee: 1, destination: "acct_x" });"#);
    missing.assert_code(1);
    assert!(missing.stderr.contains("Stripe answered 404 to GET /v1/charges/ch_nope"), "{}", missing.all());
}

#[test]
fn stripe_double_rejects_what_the_spec_does_not_know() {
    // The double itself: a misspelt parameter, an unknown path and a wrong method all get Stripe's 400.
    let _g = lock();
    doubles().stripe_state(&format!(r#"{{"keys": ["{TEST_KEY}"]}}"#));
    let api = doubles().stripe_api();
    let project = project(TEST_KEY);
    project.write(
        "t.rhai",
        &format!(
            r#"step "raw" {{
                let auth = #{{ bearer: secret("STRIPE_SECRET_KEY") }};
                for url in ["{api}/v1/products?actve=true", "{api}/v1/productz", "{api}/v1/balance"] {{
                    let r = http::get(url, auth);
                    print(`${{r.status}} ${{r.body}}`);
                }}
                let r = http::delete("{api}/v1/balance", auth);
                print(`${{r.status}} ${{r.body}}`);
            }}"#
        ),
    );
    let run = project.golive(&["t.rhai"]);
    run.assert_code(0);
    assert!(run.stdout.contains(r#"400 {"error": {"message": "Received unknown parameter: actve""#), "{}", run.all());
    assert!(
        run.stdout.contains("400 {\"error\": {\"message\": \"Unrecognized request URL (GET: /v1/productz)"),
        "{}",
        run.all()
    );
    assert!(run.stdout.contains("200 {\"available\""), "{}", run.all());
    assert!(
        run.stdout.contains("400 {\"error\": {\"message\": \"Unrecognized request URL (DELETE: /v1/balance)"),
        "{}",
        run.all()
    );
}

#[test]
fn webhook_signatures_are_checked_from_scripts() {
    use hmac::{Hmac, Mac};
    let payload = r#"{"id":"evt_1","type":"invoice.paid"}"#;
    let sign = |t: i64| -> String {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"whsec_golive_test").unwrap();
        mac.update(format!("{t}.{payload}").as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    };
    let t = chrono::Utc::now().timestamp();
    let old = t - 1000;
    let (sig, old_sig) = (sign(t), sign(old));
    let project = Project::new();
    project.write("payload.json", payload);
    project.write(
        "t.rhai",
        &format!(
            r#"let payload = `{payload}`;
            print(stripe::verify_webhook(payload, "t={t},v1=00ff,v1={sig}", "whsec_golive_test", 300));
            print(stripe::verify_webhook(payload, "t={t},v1={sig}", "whsec_wrong", 300));
            print(stripe::verify_webhook(payload, "t={old},v1={old_sig}", "whsec_golive_test", 300));"#
        ),
    );
    let run = project.golive(&["t.rhai"]);
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().filter(|l| l.contains("ok")).collect();
    assert!(lines[0].contains(r#""ok": true"#), "{}", run.all());
    assert!(lines[1].contains(r#""ok": false"#) && lines[1].contains("no v1 signature matches"), "{}", run.all());
    assert!(lines[2].contains(r#""ok": false"#) && lines[2].contains("beyond the 300s tolerance"), "{}", run.all());
}

/// Saturday's checkout check counts the subscriptions created since the run started (run_started(), the
/// same instant after a resume), not any active one: a subscription from before the run does not pass it,
/// one the checkout makes during the run does, and a resume does not move the instant past it.
#[test]
fn only_a_subscription_created_since_the_run_started_counts() {
    let _g = lock();
    let an_hour_ago = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 3600;
    doubles().stripe_state(&format!(
        r#"{{"keys": ["{TEST_KEY}"], "objects": {{"subscription": [{{"id": "sub_before", "status": "active", "created": {an_hour_ago}, "items": {{"data": [{{"price": {{"id": "price_starter_monthly"}}}}]}}}}]}}}}"#
    ));
    let project = project(TEST_KEY);
    let count =
        "stripe::subscriptions(#{ status: \"active\", price: \"price_starter_monthly\", since: run_started() }).len()";
    project.write(
        "t.rhai",
        &format!(
            r#"step "before the checkout" {{ print(`before=${{{count}}} started=${{run_started()}}`); }}
step "checkout" {{
    http::post("{api}/v1/subscriptions", #{{ form: #{{ customer: "cus_1", "items[0][price]": "price_starter_monthly" }}, bearer: secret("STRIPE_SECRET_KEY") }});
}}
step "wait for the operator" {{ local::run("test -e go-on"); }}
step "after the checkout" {{ print(`after=${{{count}}} started=${{run_started()}}`); }}
"#,
            api = doubles().stripe_api()
        ),
    );
    let first = project.golive(&["t.rhai"]);
    first.assert_code(1);
    assert!(
        first.stdout.contains("before=0 started="),
        "the subscription from before the run counted:\n{}",
        first.all()
    );
    let started = first.stdout.split("started=").nth(1).unwrap_or_default().trim().to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    project.write("go-on", "");
    let resumed = project.golive(&["resume"]);
    resumed.assert_code(0);
    assert!(
        resumed.stdout.contains(&format!("after=1 started={started}")),
        "{}\nfirst: {}",
        resumed.all(),
        first.all()
    );
}
