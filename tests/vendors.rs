//! The vendor checks of stdlib/ (cloudflare, anthropic, activecampaign, qdrant) against local doubles that
//! answer like the vendors' documented APIs (tests/servers/doubles.py). Real vendor APIs and keys are out of
//! reach and never used.

use crate::common::doubles::{doubles, lock};
use crate::common::{Project, Run};

fn project() -> Project {
    let v = doubles().vendors_api();
    let config = format!(
        "default_target = \"local\"\n[targets.local]\nkind = \"local\"\n\
         [vars.cloudflare]\napi = \"{v}/cloudflare/client/v4\"\n\
         [vars.anthropic]\napi = \"{v}/anthropic\"\n\
         [vars.activecampaign]\napi = \"{v}/activecampaign\"\n\
         [vars.qdrant]\nurl = \"{v}/qdrant\"\nkey_secret = \"QDRANT_API_KEY\"\n"
    );
    let project = Project::with_config(&config);
    project.write(
        ".env",
        "CLOUDFLARE_API_TOKEN=cf-token-golive-0001\nANTHROPIC_API_KEY=sk-ant-golive-double-0001\n\
         ACTIVECAMPAIGN_API_TOKEN=ac-token-golive-0001\nQDRANT_API_KEY=qdrant-key-golive-01\n",
    );
    project
}

fn run(state: &str, body: &str) -> Run {
    doubles().vendor_state(state);
    let project = project();
    project.write("t.rhai", &format!("step \"vendors\" {{\n{body}\n}}"));
    let run = project.golive(&["t.rhai"]);
    for secret in ["cf-token-golive-0001", "sk-ant-golive-double-0001", "ac-token-golive-0001", "qdrant-key-golive-01"]
    {
        assert!(!run.all().contains(secret), "{secret} reached the output:\n{}", run.all());
    }
    run
}

#[test]
fn cloudflare_double_token_dns_and_waf() {
    let _g = lock();
    let good = run(
        r#"{"qdrant_key": "qdrant-key-golive-01"}"#,
        r#"
        print(`token=${cloudflare::token_status()}`);
        let dns = cloudflare::record_matches("jarabaimpact.com", "app.jarabaimpact.com", "A", "203.0.113.10");
        print(`dns=${dns.ok} ${dns.actual}`);
        let wrong = cloudflare::record_matches("jarabaimpact.com", "app.jarabaimpact.com", "A", "198.51.100.7");
        print(`wrong=${wrong.ok}`);
        print(`waf=${cloudflare::waf_managed_enabled("jarabaimpact.com").ok}`);
    "#,
    );
    good.assert_code(0);
    assert!(good.stdout.contains("token=active"), "{}", good.all());
    assert!(good.stdout.contains("dns=true A app.jarabaimpact.com -> [\"203.0.113.10\"]"), "{}", good.all());
    assert!(good.stdout.contains("wrong=false"), "{}", good.all());
    assert!(good.stdout.contains("waf=true"), "{}", good.all());

    let waf_off = run(r#"{"waf_enabled": false}"#, r#"print(cloudflare::waf_managed_enabled("jarabaimpact.com"));"#);
    waf_off.assert_code(0);
    assert!(
        waf_off.stdout.contains("\"ok\": false") && waf_off.stdout.contains("0 of 1 managed rulesets enabled"),
        "{}",
        waf_off.all()
    );

    let bad_token = run(r#"{"cloudflare_token": "another-token-0009"}"#, "cloudflare::token_status();");
    bad_token.assert_code(1);
    assert!(
        bad_token.stderr.contains("Cloudflare answered 401 to GET /user/tokens/verify: [\"1000 Invalid API Token\"]"),
        "{}",
        bad_token.all()
    );

    let no_zone = run("{}", r#"cloudflare::zone_id("example.org");"#);
    no_zone.assert_code(1);
    assert!(no_zone.stderr.contains("Cloudflare has no zone named example.org"), "{}", no_zone.all());
}

#[test]
fn anthropic_double_key_and_model() {
    let _g = lock();
    let good = run(
        "{}",
        r#"
        let v = anthropic::key_valid("claude-sonnet-4-5");
        print(`valid=${v.ok} ${v.actual}`);
        print(`missing=${anthropic::key_valid("claude-opus-9").ok}`);
        print(`models=${anthropic::models()}`);
    "#,
    );
    good.assert_code(0);
    assert!(good.stdout.contains("valid=true 2 models, claude-sonnet-4-5 available"), "{}", good.all());
    assert!(good.stdout.contains("missing=false"), "{}", good.all());
    assert!(good.stdout.contains(r#"models=["claude-sonnet-4-5", "claude-haiku-4-5"]"#), "{}", good.all());
    let bad = run(r#"{"anthropic_key": "sk-ant-another-key-77"}"#, r#"print(anthropic::key_valid(""));"#);
    bad.assert_code(0);
    assert!(bad.stdout.contains("401 authentication_error: invalid x-api-key"), "{}", bad.all());
}

#[test]
fn activecampaign_double_lists_across_pages() {
    let _g = lock();
    let many: Vec<String> = (0..130).map(|i| format!("\"List {i}\"")).collect();
    let state = format!(r#"{{"lists": ["Beta testers", {}]}}"#, many.join(","));
    let good = run(
        &state,
        r#"
        print(`count=${activecampaign::lists().len()}`);
        let v = activecampaign::lists_exist(["Beta testers", "List 129"]);
        print(`exist=${v.ok} ${v.actual}`);
        let m = activecampaign::lists_exist(["Beta testers", "Clientes VIP"]);
        print(`missing=${m.ok} ${m.actual}`);
    "#,
    );
    good.assert_code(0);
    assert!(good.stdout.contains("count=131"), "{}", good.all());
    assert!(good.stdout.contains("exist=true 131 lists, all present"), "{}", good.all());
    assert!(good.stdout.contains("missing=false missing [\"Clientes VIP\"]"), "{}", good.all());
    let bad = run(r#"{"activecampaign_token": "nope-nope-nope-1"}"#, "activecampaign::lists();");
    bad.assert_code(1);
    assert!(bad.stderr.contains("ActiveCampaign answered 403"), "{}", bad.all());
}

#[test]
fn qdrant_double_ready_or_not() {
    let _g = lock();
    let ready = run(r#"{"qdrant_key": "qdrant-key-golive-01"}"#, "print(qdrant::ready());");
    ready.assert_code(0);
    assert!(
        ready.stdout.contains(r#""ok": true"#) && ready.stdout.contains("200 all shards are ready"),
        "{}",
        ready.all()
    );
    let not_ready = run(r#"{"qdrant_key": "qdrant-key-golive-01", "qdrant_ready": false}"#, "print(qdrant::ready());");
    assert!(not_ready.stdout.contains("503 some shards are not ready"), "{}", not_ready.all());
    let wrong_key = run(r#"{"qdrant_key": "another-qdrant-key-2"}"#, "print(qdrant::ready());");
    assert!(wrong_key.stdout.contains("401 Must provide an API key"), "{}", wrong_key.all());
}
