//! `golive serve`: a read-only page of the current launch for the people in the launch channel who do not
//! run golive (runbook 9.1, "Actualizar status page"): the report's phases, steps, verdicts, the gate's
//! decision box and the timeline, pushed again (server-sent events) whenever a journal grows. It binds to
//! 127.0.0.1 unless told otherwise, serves nothing but the page, its script and the events, and forbids the
//! page everything else (Content-Security-Policy), so text from a journal can never run in a reader's browser.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::Stream;

use crate::config::Config;
use crate::error::{Failure, Result};
use crate::run::launch::{self, Selection};

/// How often the journals are looked at for growth.
const POLL: Duration = Duration::from_millis(500);

const LIVE_JS: &str = r#"// golive serve: the report's content is replaced whenever the server pushes a new one.
const source = new EventSource("events");
// data-updates counts the reports this page received: a page that reloaded would start again at 1.
let updates = 0;
source.addEventListener("report", (e) => {
  const main = document.getElementById("report");
  main.innerHTML = e.data;
  main.dataset.updates = String(++updates);
});
source.addEventListener("error", () => { document.title = "(reconnecting) " + document.title.replace(/^\(reconnecting\) /, ""); });
source.addEventListener("open", () => { document.title = document.title.replace(/^\(reconnecting\) /, ""); });
"#;

const POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; img-src 'self' data:";

struct Served {
    config: Config,
    selection: Selection,
}

impl Served {
    /// The report of what the journals hold now: the whole page, or only its content for an event.
    fn render(&self, whole: bool) -> String {
        let launch = match launch::read(&self.config, &self.selection) {
            Ok(launch) => launch,
            Err(e) => {
                let text = launch::html::esc(e.message());
                return match whole {
                    true => format!(
                        "<!DOCTYPE html><meta charset=\"utf-8\"><main id=\"report\"><p>{text}</p></main>{}",
                        script_tag()
                    ),
                    false => format!("<p>{text}</p>"),
                };
            }
        };
        let blocks = launch::document::build(&launch);
        match whole {
            true => launch::html::page(&launch, &blocks, &script_tag()),
            false => {
                let mut out = String::new();
                launch::html::body(&launch, &blocks, &mut out);
                out
            }
        }
    }

    /// What changes when a journal grows, in whichever store the project uses.
    fn fingerprint(&self) -> String {
        crate::run::store::of(&self.config).map(|store| store.fingerprint()).unwrap_or_else(|e| e.message().to_string())
    }
}

fn script_tag() -> String {
    "<script src=\"live.js\" defer></script><noscript><meta http-equiv=\"refresh\" content=\"10\"></noscript>".into()
}

fn with_policy(content_type: &'static str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn page(State(served): State<Arc<Served>>) -> Response {
    let html = tokio::task::spawn_blocking(move || served.render(true)).await.unwrap_or_default();
    with_policy("text/html; charset=utf-8", html)
}

async fn script() -> Response {
    with_policy("text/javascript; charset=utf-8", LIVE_JS.to_string())
}

async fn events(State(served): State<Arc<Served>>) -> Sse<impl Stream<Item = std::result::Result<Event, Infallible>>> {
    let stream = futures::stream::unfold((served, None), |(served, mut seen)| async move {
        loop {
            let look = Arc::clone(&served);
            let now = tokio::task::spawn_blocking(move || look.fingerprint()).await.unwrap_or_default();
            if seen.as_ref() != Some(&now) {
                seen = Some(now);
                let render = Arc::clone(&served);
                let body = tokio::task::spawn_blocking(move || render.render(false)).await.unwrap_or_default();
                // An event's data may not hold a carriage return (journal text has them escaped already).
                let body = body.replace('\r', "");
                return Some((Ok(Event::default().event("report").data(body)), (served, seen)));
            }
            tokio::time::sleep(POLL).await;
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// Serves until Ctrl-C or SIGTERM; prints the address it listens on first (port 0 picks a free one).
pub fn serve(config: Config, selection: Selection, bind: SocketAddr, runtime: &tokio::runtime::Runtime) -> Result<()> {
    // The selection is checked once up front: a run that does not exist is an error now, not a blank page.
    launch::select(&config, &selection)?;
    let served = Arc::new(Served { config, selection });
    let app = Router::new()
        .route("/", get(page))
        .route("/live.js", get(script))
        .route("/events", get(events))
        .with_state(served);
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|e| Failure::Usage(format!("error: cannot listen on {bind}: {e}")))?;
        let address = listener.local_addr().map_err(|e| Failure::Usage(format!("error: {e}")))?;
        if !address.ip().is_loopback() {
            eprintln!("warning: serving on {address}, which other machines can reach; the page is read-only");
        }
        println!("serving the launch on http://{address}/ (Ctrl-C stops)");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let stop = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
        };
        // Event streams never end by themselves: a stop ends the server without waiting for its readers.
        tokio::select! {
            served = axum::serve(listener, app) => {
                served.map_err(|e| Failure::Usage(format!("error: serving on {address}: {e}")))
            }
            _ = stop => Ok(()),
        }
    })
}
