//! `message::parse`: an e-mail as fetched from a mailbox (RFC 5322 text) made readable for a check: subject,
//! from, to, date, the text body (decoded from quoted-printable or base64, the HTML part's text when there is
//! no plain one) and the links in it, so a smoke test can follow a verification link. Pure: the raw
//! message comes from a read the script made (stdlib/mail.rhai fetches it over IMAP).

use std::rc::Rc;

use mail_parser::{Address, MessageParser};
use regex::Regex;
use rhai::{Array, Dynamic, Engine, EvalAltResult, Map, Module, NativeCallContext};

use super::{Registrar, Sig};
use crate::modules::Host;
use crate::script_error::runtime;

#[derive(Debug)]
pub struct Parsed {
    pub subject: String,
    pub from: String,
    pub to: Vec<String>,
    pub date: String,
    pub text: String,
    pub links: Vec<String>,
}

fn addresses(address: Option<&Address>) -> Vec<String> {
    address.map(|a| a.iter().filter_map(|a| a.address().map(str::to_string)).collect()).unwrap_or_default()
}

/// The links a body holds, in order, once each (http and https only; trailing punctuation is not a link's).
fn links(text: &str) -> Vec<String> {
    let url = Regex::new(r#"https?://[^\s"'<>]+"#).expect("the link pattern compiles");
    let mut found: Vec<String> = Vec::new();
    for m in url.find_iter(text) {
        let link = m.as_str().trim_end_matches(['.', ',', ';', ')', ']']).to_string();
        if !found.contains(&link) {
            found.push(link);
        }
    }
    found
}

pub fn parse(raw: &str) -> Result<Parsed, String> {
    let message = MessageParser::default()
        .parse(raw.as_bytes())
        .filter(|m| m.headers().iter().next().is_some())
        .ok_or_else(|| "message::parse: this is not an e-mail message (no headers)".to_string())?;
    let text = message
        .body_text(0)
        .map(|t| t.into_owned())
        .or_else(|| message.body_html(0).map(|h| h.into_owned()))
        .unwrap_or_default();
    let html = message.body_html(0).map(|h| h.into_owned()).unwrap_or_default();
    let mut all_links = links(&text);
    for link in links(&html) {
        if !all_links.contains(&link) {
            all_links.push(link);
        }
    }
    Ok(Parsed {
        subject: message.subject().unwrap_or_default().to_string(),
        from: addresses(message.from()).into_iter().next().unwrap_or_default(),
        to: addresses(message.to()),
        date: message.date().map(|d| d.to_rfc3339()).unwrap_or_default(),
        text,
        links: all_links,
    })
}

fn to_map(p: Parsed) -> Map {
    let mut m = Map::new();
    m.insert("subject".into(), p.subject.into());
    m.insert("from".into(), p.from.into());
    m.insert("to".into(), Dynamic::from_array(p.to.into_iter().map(Dynamic::from).collect::<Array>()));
    m.insert("date".into(), p.date.into());
    m.insert("text".into(), p.text.into());
    m.insert("links".into(), Dynamic::from_array(p.links.into_iter().map(Dynamic::from).collect::<Array>()));
    m
}

pub fn register(engine: &mut Engine, reg: &mut Registrar, _host: &Rc<Host>) {
    let mut m = Module::new();
    reg.in_module(
        &mut m,
        "message",
        Sig {
            name: "parse",
            params: &["raw: string"],
            returns: "map",
            doc: "An e-mail message (RFC 5322 text) as #{ subject, from, to: [...], date, text, links: [...] }: headers \
                  and body decoded, the links of the text and HTML parts in order.",
            effectful: false,
        },
        move |ctx: NativeCallContext, raw: &str| -> Result<Map, Box<EvalAltResult>> {
            parse(raw).map(to_map).map_err(|e| runtime(e, ctx.call_position()))
        },
    );
    engine.register_static_module("message", m.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verification_email_gives_its_decoded_subject_and_its_link() {
        let raw = include_str!("../../tests/fixtures/mail/verification.eml");
        let p = parse(raw).unwrap();
        assert_eq!(p.subject, "Verifica tu cuenta en Jaraba — último paso");
        assert_eq!(p.from, "noreply@jarabaimpact.com");
        assert_eq!(p.to, ["qa+1@jarabaimpact.com"]);
        assert!(p.text.starts_with("Hola, verifica tu cuenta:"), "{}", p.text);
        assert_eq!(p.links, [format!("https://localhost:18443/user/verify/abc123?token={}", "x".repeat(80))]);
    }

    #[test]
    fn text_that_is_not_a_message_is_refused() {
        assert!(parse("").unwrap_err().contains("not an e-mail message"));
    }
}
