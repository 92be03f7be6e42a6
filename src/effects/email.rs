//! Email over SMTP (lettre), for notify::email: the SMTP server and credentials come from golive.toml.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Email {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    pub smtp: Smtp,
}

#[derive(Debug, Clone, Serialize)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub from: String,
    /// "none" (loopback sinks), "starttls" (port 587) or "tls" (port 465).
    pub security: String,
    pub user: Option<String>,
    /// Never described or journaled.
    #[serde(skip)]
    pub password: Option<String>,
}

impl Email {
    pub fn describe(&self) -> String {
        format!("email \"{}\" to {} via {}:{}", self.subject, self.to.join(", "), self.smtp.host, self.smtp.port)
    }
}

fn mailbox(text: &str) -> Result<Mailbox, String> {
    text.parse().map_err(|e| format!("`{text}` is not an email address: {e}"))
}

pub async fn send(email: &Email, timeout: Duration) -> Result<(), String> {
    let mut message = Message::builder().from(mailbox(&email.smtp.from)?).subject(email.subject.clone());
    for to in &email.to {
        message = message.to(mailbox(to)?);
    }
    let message = message.body(email.body.clone()).map_err(|e| format!("cannot build the email: {e}"))?;
    let smtp = &email.smtp;
    let mut transport = match smtp.security.as_str() {
        "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
        "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host).map_err(|e| e.to_string())?,
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(|e| e.to_string())?,
        other => return Err(format!("smtp security `{other}` is not one of none, starttls, tls")),
    }
    .port(smtp.port)
    .timeout(Some(timeout));
    if let (Some(user), Some(password)) = (&smtp.user, &smtp.password) {
        transport = transport.credentials(Credentials::new(user.clone(), password.clone()));
    }
    transport
        .build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| format!("SMTP {}:{}: {}", smtp.host, smtp.port, super::http::chain(&e)))
}
