//! `s3::list`: the objects under an S3 prefix (runbook 3.2's `aws s3 ls` of the off-site backup), through the
//! S3 API (ListObjectsV2) with curl signing the request (SigV4). One fact in one place: the command, the
//! parser of its XML and what a plan assumes when nothing answers (an empty listing, so no check passes).
//! golive.toml: [vars.s3] endpoint (default https://s3.REGION.amazonaws.com), region (eu-west-1),
//! access_key_secret (AWS_ACCESS_KEY_ID), secret_key_secret (AWS_SECRET_ACCESS_KEY).

use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map, Module, NativeCallContext};

use super::core::TargetHandle;
use super::exec::command;
use super::{Registrar, Sig};
use crate::effects::Command;
use crate::modules::Host;
use crate::script_error::runtime;

/// What a plan takes the listing to answer when no scenario does: a bucket with nothing under the prefix.
const ASSUMED: &str =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><KeyCount>0</KeyCount></ListBucketResult>";

/// One object of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub key: String,
    pub size: i64,
    pub last_modified: String,
}

/// `s3://bucket/some/prefix` as (bucket, prefix).
fn split_url(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| format!("`{url}` is not an s3://BUCKET/PREFIX address"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    if bucket.is_empty() || !bucket.chars().all(valid) {
        return Err(format!("`{bucket}` in `{url}` is not an S3 bucket name"));
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

/// The text between the first `<tag>` and its `</tag>` in `xml`, XML entities decoded.
fn element(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// A ListObjectsV2 answer: its objects, or S3's error (`<Error><Code>...`) as text.
pub fn parse_listing(xml: &str) -> Result<Vec<Object>, String> {
    if xml.contains("<Error>") {
        let code = element(xml, "Code").unwrap_or_default();
        let message = element(xml, "Message").unwrap_or_default();
        return Err(format!("S3 answered {code}: {message}"));
    }
    if !xml.contains("<ListBucketResult") {
        let shown: String = xml.chars().take(120).collect();
        return Err(format!("S3 did not answer a listing: {shown}"));
    }
    let mut objects = Vec::new();
    for part in xml.split("<Contents>").skip(1) {
        let part = part.split("</Contents>").next().unwrap_or_default();
        let key = element(part, "Key").ok_or("an object without a Key in S3's listing")?;
        let size = element(part, "Size").and_then(|s| s.trim().parse().ok()).ok_or(format!("{key}: no Size"))?;
        let last_modified = element(part, "LastModified").unwrap_or_default();
        objects.push(Object { key, size, last_modified });
    }
    Ok(objects)
}

/// Hours from `at` (ISO 8601) to `now`; None when it is not a time.
fn age_hours(at: &str, now: i64) -> Option<f64> {
    let then = chrono::DateTime::parse_from_rfc3339(at).ok()?.timestamp();
    Some(((now - then) as f64 / 360.0).round() / 10.0)
}

fn list(host: &Host, ctx: &NativeCallContext, url: &str) -> Result<Array, Box<EvalAltResult>> {
    let pos = ctx.call_position();
    let (bucket, prefix) = split_url(url).map_err(|e| runtime(e, pos))?;
    let region = host.var_text("s3.region").unwrap_or_else(|| "eu-west-1".into());
    let endpoint = host.var_text("s3.endpoint").unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
    let secret = |key: &str, default: &str| {
        let name = host.var_text(key).unwrap_or_else(|| default.into());
        host.secrets.get(&name).map_err(|e| runtime(e, pos))
    };
    let access_key = secret("s3.access_key_secret", "AWS_ACCESS_KEY_ID")?;
    let secret_key = secret("s3.secret_key_secret", "AWS_SECRET_ACCESS_KEY")?;
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("list-type", "2")
        .append_pair("prefix", &prefix)
        .finish();
    let address = format!("{}/{bucket}?{query}", endpoint.trim_end_matches('/'));
    let argv = ["curl", "--silent", "--show-error", "--max-time", "30", "--aws-sigv4", &format!("aws:amz:{region}:s3")]
        .into_iter()
        .map(String::from)
        .chain(["--config".into(), "-".into(), address])
        .collect();
    // curl's config syntax: inside quotes a backslash escapes the next character. The keys go on stdin,
    // never on a command line.
    let quoted = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut options = Map::new();
    options.insert("read_only".into(), true.into());
    options.insert("allow_fail".into(), true.into());
    options.insert("assume".into(), ASSUMED.into());
    options.insert("stdin".into(), format!("user = \"{}:{}\"\n", quoted(&access_key), quoted(&secret_key)).into());
    let local = TargetHandle::local();
    let out = command(host, ctx, "s3", &local, Command::Argv(argv), options)?;
    let code = out.get("code").and_then(|c| c.as_int().ok()).unwrap_or(-1);
    let stdout = out.get("stdout").map(|s| s.to_string()).unwrap_or_default();
    if code != 0 {
        let stderr = out.get("stderr").map(|s| s.to_string()).unwrap_or_default();
        return Err(runtime(format!("listing {url} failed (curl exit {code}): {}", stderr.trim()), pos));
    }
    let objects = parse_listing(&stdout).map_err(|e| runtime(format!("listing {url}: {e}"), pos))?;
    let now = if host.controller.is_dry() { crate::clock::PLAN_TIMESTAMP } else { chrono::Utc::now().timestamp() };
    Ok(objects
        .into_iter()
        .map(|o| {
            let mut m = Map::new();
            m.insert("age_hours".into(), age_hours(&o.last_modified, now).map(Dynamic::from).unwrap_or(Dynamic::UNIT));
            m.insert("key".into(), o.key.into());
            m.insert("size".into(), o.size.into());
            m.insert("last_modified".into(), o.last_modified.into());
            Dynamic::from_map(m)
        })
        .collect())
}

pub fn register(engine: &mut Engine, reg: &mut Registrar, host: &Rc<Host>) {
    let mut m = Module::new();
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "s3",
        Sig {
            name: "list",
            params: &["url: string"],
            returns: "array",
            doc: "The objects under s3://BUCKET/PREFIX through the S3 API (ListObjectsV2, signed by curl with the keys named in [vars.s3]): #{ key, size, last_modified, age_hours } each; an S3 error fails the step.",
            effectful: true,
        },
        move |ctx: NativeCallContext, url: &str| list(&h, &ctx, url),
    );
    engine.register_static_module("s3", m.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_gives_each_objects_key_size_and_time_and_an_error_says_what_s3_said() {
        let xml =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/s3/list-objects-v2.xml"))
                .unwrap();
        let objects = parse_listing(&xml).unwrap();
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0].key, "pre-golive-20261128-060000/db.sql");
        assert_eq!(objects[0].size, 48213);
        assert_eq!(objects[1].key, "pre-golive-20261128-060000/files & uploads.tar");
        assert_eq!(age_hours(&objects[0].last_modified, 1_795_852_800 + 7200), Some(2.0));
        let denied = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
        assert_eq!(parse_listing(denied).unwrap_err(), "S3 answered AccessDenied: Access Denied");
        assert!(parse_listing("<html>proxy error</html>").unwrap_err().starts_with("S3 did not answer a listing"));
        assert!(parse_listing(ASSUMED).unwrap().is_empty());
        assert_eq!(split_url("s3://jaraba-backups/pre/").unwrap(), ("jaraba-backups".into(), "pre/".into()));
        assert!(split_url("https://jaraba-backups/").is_err());
    }
}
