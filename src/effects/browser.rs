//! A headless Chromium driven over the DevTools protocol (chromiumoxide): page vitals as a browser
//! measures them (LCP, CLS, INP, FCP, TTFB) and scripted flows (visit, fill, click, wait_for, screenshot).
//!
//! golive starts Chromium itself, in its own process group and killed by the kernel if golive dies, and
//! keeps it warm for the run; each measurement or flow gets a fresh page with the cache off.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use chromiumoxide::cdp::browser_protocol::network::SetCacheDisabledParams;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncBufReadExt;

use super::Access;

#[derive(Debug, Clone, Serialize)]
pub struct BrowserRequest {
    pub task: Task,
    /// A CA certificate (PEM) the browser trusts besides the system's: the rehearsal's own CA.
    pub ca_file: Option<String>,
    pub access: Access,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Task {
    /// Loads `url` `runs` times, performs the interactions after each load, and reads the vitals.
    Vitals { url: String, interactions: Vec<Action>, runs: u32 },
    /// One page walked through the actions in order; stops at the first that fails.
    Flow { actions: Vec<Action> },
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Visit(String),
    /// Types into the element. The text is never described, journaled or planned (it may be a password).
    Fill {
        selector: String,
        #[serde(skip)]
        text: String,
    },
    Click(String),
    /// Waits until an element matches the selector, at most this long.
    WaitFor(String, #[serde(skip)] Duration),
    /// Saves a PNG of the page as evidence (written whole or not at all).
    Screenshot(String),
}

impl Action {
    pub fn describe(&self) -> String {
        match self {
            Action::Visit(url) => format!("visit {url}"),
            Action::Fill { selector, .. } => format!("fill {selector}"),
            Action::Click(selector) => format!("click {selector}"),
            Action::WaitFor(selector, _) => format!("wait_for {selector}"),
            Action::Screenshot(path) => format!("screenshot {path}"),
        }
    }
}

impl BrowserRequest {
    pub fn describe(&self) -> String {
        match &self.task {
            Task::Vitals { url, interactions, runs } if interactions.is_empty() => {
                format!("browser vitals of {url} x{runs}")
            }
            Task::Vitals { url, interactions, runs } => {
                let done: Vec<String> = interactions.iter().map(Action::describe).collect();
                format!("browser vitals of {url} x{runs} ({})", done.join(", "))
            }
            Task::Flow { actions } => {
                let done: Vec<String> = actions.iter().map(Action::describe).collect();
                format!("browser flow: {}", done.join(", "))
            }
        }
    }
}

/// One load of a page as the browser saw it. None: the browser reported no such entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub status: Option<u16>,
    pub lcp_ms: Option<f64>,
    pub cls: Option<f64>,
    pub inp_ms: Option<f64>,
    /// First Input Delay, the seed's 4.3 metric: the first interaction's wait for the main thread.
    #[serde(default)]
    pub fid_ms: Option<f64>,
    pub fcp_ms: Option<f64>,
    pub ttfb_ms: Option<f64>,
    /// The whole page loaded (its load event ended: images, scripts and styles in), from the navigation's
    /// start: runbook 4.3's "Homepage Load Time".
    #[serde(default)]
    pub load_ms: Option<f64>,
}

/// The median of each vital over the runs; None when no run observed it (unknown, never zero).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VitalsReport {
    pub url: String,
    pub median: Sample,
    pub samples: Vec<Sample>,
    /// An interaction the page did not allow (no such element: an error page, another release's markup):
    /// the runs stop there and their INP is unknown. Empty when every run did them all.
    pub error: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowReport {
    pub ok: bool,
    /// The page's address and title when the flow ended.
    pub url: String,
    pub title: String,
    /// Each action done, with its time: "click #submit: 35 ms".
    pub done: Vec<String>,
    /// The action that failed and why; empty when all passed.
    pub error: String,
    pub screenshots: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BrowserOutcome {
    Vitals(VitalsReport),
    Flow(FlowReport),
}

impl BrowserOutcome {
    /// One line for the journal.
    pub fn summary(&self) -> String {
        let shown = |v: Option<f64>, unit: &str| v.map(|v| format!("{v:.0}{unit}")).unwrap_or_else(|| "unknown".into());
        match self {
            BrowserOutcome::Vitals(r) if !r.error.is_empty() => format!("stopped: {}", r.error),
            BrowserOutcome::Vitals(r) => format!(
                "median of {}: LCP {}, CLS {}, INP {}, FID {}, FCP {}, TTFB {}, load {}",
                r.samples.len(),
                shown(r.median.lcp_ms, " ms"),
                r.median.cls.map(|c| format!("{c:.3}")).unwrap_or_else(|| "unknown".into()),
                shown(r.median.inp_ms, " ms"),
                shown(r.median.fid_ms, " ms"),
                shown(r.median.fcp_ms, " ms"),
                shown(r.median.ttfb_ms, " ms"),
                shown(r.median.load_ms, " ms"),
            ),
            BrowserOutcome::Flow(f) if f.ok => format!("{} actions done, at {}", f.done.len(), f.url),
            BrowserOutcome::Flow(f) => format!("failed: {}", f.error),
        }
    }
}

/// Registered on every new document before its own scripts: observers that keep the vitals as the
/// web-vitals library defines them (CLS as the largest session window of shifts without recent input;
/// INP as the longest interaction, which is exact below 50 interactions; the first input always has an
/// entry, so an interaction with none was not seen rather than fast).
const OBSERVERS: &str = r#"(() => {
  const v = window.__golive_vitals = { lcp: null, cls: 0, fcp: null, ttfb: null, status: null, inp: null, first_input: null, fid: null };
  const observe = (type, each, extra) => {
    try { new PerformanceObserver(list => list.getEntries().forEach(each)).observe(Object.assign({ type, buffered: true }, extra || {})); }
    catch (e) { if (type === 'layout-shift') v.cls = null; }
  };
  let session = 0, first = 0, last = 0;
  observe('largest-contentful-paint', e => { v.lcp = e.startTime; });
  observe('layout-shift', e => {
    if (e.hadRecentInput) return;
    if (session > 0 && e.startTime - last < 1000 && e.startTime - first < 5000) { session += e.value; }
    else { session = e.value; first = e.startTime; }
    last = e.startTime;
    if (session > v.cls) v.cls = session;
  });
  observe('paint', e => { if (e.name === 'first-contentful-paint') v.fcp = e.startTime; });
  observe('navigation', e => { v.ttfb = e.responseStart; v.status = e.responseStatus || null; });
  observe('event', e => { if (e.interactionId) v.inp = Math.max(v.inp || 0, e.duration); }, { durationThreshold: 16 });
  observe('first-input', e => { v.first_input = e.duration; v.fid = e.processingStart - e.startTime; });
})();"#;

/// Read after the page settled: two frames and a pause let the observers hear the last entries.
const READ_VITALS: &str = r#"new Promise(done => setTimeout(() => requestAnimationFrame(() => requestAnimationFrame(() =>
  setTimeout(() => {
    const v = window.__golive_vitals, nav = performance.getEntriesByType('navigation')[0];
    if (v && nav && nav.loadEventEnd > 0) v.load = nav.loadEventEnd;
    done(JSON.stringify(v || null));
  }, 50))), 100))"#;

#[derive(Debug, Deserialize)]
struct Observed {
    lcp: Option<f64>,
    cls: Option<f64>,
    fcp: Option<f64>,
    ttfb: Option<f64>,
    /// The navigation's loadEventEnd (0 until the load event ended: then unknown).
    #[serde(default)]
    load: Option<f64>,
    status: Option<u16>,
    inp: Option<f64>,
    first_input: Option<f64>,
    /// The first input's delay (FID): from the input until its handlers began.
    #[serde(default)]
    fid: Option<f64>,
}

/// What the observers saw of one load. With interactions, INP is the longest one; an interaction the
/// browser never registered (no first-input entry) leaves it unknown.
pub fn sample_from(observed_json: &str, interacted: bool) -> Result<Sample, String> {
    let observed: Option<Observed> = serde_json::from_str(observed_json)
        .map_err(|e| format!("the page's vitals could not be read ({e}): {observed_json}"))?;
    let Some(o) = observed else {
        return Err("the page ran none of golive's observers (it replaced the document?)".into());
    };
    let inp_ms = match (interacted, o.first_input) {
        (false, _) | (true, None) => None,
        (true, Some(first)) => Some(first.max(o.inp.unwrap_or(0.0))),
    };
    let fid_ms = if interacted { o.fid.filter(|d| *d >= 0.0) } else { None };
    // Browsers report times to a fraction of a millisecond, coarsened on purpose: a tenth is all they mean.
    let ms = |v: Option<f64>| v.map(|v| (v * 10.0).round() / 10.0);
    let cls = o.cls.map(|v| (v * 10_000.0).round() / 10_000.0);
    Ok(Sample {
        status: o.status,
        lcp_ms: ms(o.lcp),
        cls,
        inp_ms: ms(inp_ms),
        fid_ms: ms(fid_ms),
        fcp_ms: ms(o.fcp),
        ttfb_ms: ms(o.ttfb),
        load_ms: ms(o.load),
    })
}

/// The median of the values the runs observed, per vital.
pub fn median_of(samples: &[Sample]) -> Sample {
    let median = |pick: fn(&Sample) -> Option<f64>| {
        let mut values: Vec<f64> = samples.iter().filter_map(pick).filter(|v| v.is_finite()).collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let mid = values.len() / 2;
        Some(if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 })
    };
    // The status every run saw; a run that saw another one makes the whole unknown.
    let status =
        samples.first().and_then(|s| s.status).filter(|first| samples.iter().all(|s| s.status == Some(*first)));
    Sample {
        status,
        lcp_ms: median(|s| s.lcp_ms),
        cls: median(|s| s.cls),
        inp_ms: median(|s| s.inp_ms),
        fid_ms: median(|s| s.fid_ms),
        fcp_ms: median(|s| s.fcp_ms),
        ttfb_ms: median(|s| s.ttfb_ms),
        load_ms: median(|s| s.load_ms),
    }
}

/// A Chromium golive started: its DevTools client, the task driving the client, and its folders.
struct Chromium {
    browser: chromiumoxide::Browser,
    driver: tokio::task::JoinHandle<()>,
    process: tokio::process::Child,
    /// Its profile and HOME: removed when the browser is dropped, after it was killed.
    _folder: TempFolder,
    ca_file: Option<String>,
}

impl Drop for Chromium {
    fn drop(&mut self) {
        self.driver.abort();
        if let Some(pid) = self.process.id() {
            // The whole group: the browser's zygote and renderers too.
            // SAFETY: kill(2) on a process group golive created for this browser.
            unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
        }
        let _ = self.process.start_kill();
    }
}

/// A folder removed when dropped (the browser's profile and the HOME holding its certificate store).
pub struct TempFolder(pub PathBuf);

impl TempFolder {
    /// A fresh folder under the system's temporary folder, named after golive's process and the time.
    pub fn new(prefix: &str) -> Result<TempFolder, String> {
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let root = std::env::temp_dir().join(format!("{prefix}-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
        Ok(TempFolder(root))
    }
}

/// Headless Chromium as golive starts it, for measuring and for printing alike: a throwaway profile and
/// HOME under `folder`, its own process group, killed when dropped and when golive dies, and (as root,
/// where Chromium's sandbox refuses to run) without the sandbox. The caller adds its own arguments.
pub fn headless_command(program: &Path, folder: &Path, home: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    command
        .args(["--headless=new", "--no-first-run", "--disable-extensions", "--disable-dev-shm-usage"])
        .arg(format!("--user-data-dir={}", folder.join("profile").display()))
        .env("HOME", home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        command.arg("--no-sandbox");
    }
    super::process_group::dies_with_golive(&mut command);
    command
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The executable: $GOLIVE_CHROMIUM, else the first of chromium, chromium-browser, google-chrome on PATH.
pub fn executable() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("GOLIVE_CHROMIUM").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err("no Chromium found (chromium, chromium-browser or google-chrome on PATH, or $GOLIVE_CHROMIUM); \
         on Debian: apt-get install chromium"
        .into())
}

/// Chromium on Linux trusts the NSS store under $HOME/.pki/nssdb: a fresh one holding the CA, made by
/// certutil (Debian's libnss3-tools).
async fn trust_store(home: &Path, ca_file: &str) -> Result<(), String> {
    let db = home.join(".pki/nssdb");
    std::fs::create_dir_all(&db).map_err(|e| format!("cannot create {}: {e}", db.display()))?;
    let store = format!("sql:{}", db.display());
    let steps: [Vec<&str>; 2] = [
        vec!["-N", "-d", &store, "--empty-password"],
        vec!["-A", "-d", &store, "-n", "golive-ca", "-t", "C,,", "-i", ca_file],
    ];
    for args in steps {
        let out = tokio::process::Command::new("certutil").args(&args).stdin(Stdio::null()).output().await.map_err(
            |e| format!("the browser trusts ca_file through certutil, which could not run ({e}); on Debian: apt-get install libnss3-tools"),
        )?;
        if !out.status.success() {
            return Err(format!(
                "certutil could not add {ca_file} to the browser's trust store: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    Ok(())
}

async fn launch(ca_file: Option<&str>) -> Result<Chromium, String> {
    let program = executable()?;
    let folder = TempFolder::new("golive-chromium")?;
    let root = folder.0.clone();
    let home = root.join("home");
    std::fs::create_dir_all(&home).map_err(|e| format!("cannot create {}: {e}", home.display()))?;
    if let Some(ca) = ca_file {
        trust_store(&home, ca).await?;
    }
    let mut command = headless_command(&program, &root, &home);
    command.args([
        "--remote-debugging-port=0",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-sync",
        "--window-size=1350,940",
        "about:blank",
    ]);
    let mut process = command.spawn().map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let stderr = process.stderr.take().expect("stderr is piped");
    let (tell, listening) = tokio::sync::oneshot::channel();
    // The browser writes its DevTools address on stderr, then keeps writing: the pipe is drained for good.
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let mut tell = Some(tell);
        let mut said = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(at) = line.find("ws://") {
                if let Some(tell) = tell.take() {
                    let _ = tell.send(Ok(line[at..].trim().to_string()));
                }
            } else if tell.is_some() && said.len() < 20 {
                said.push(line);
            }
        }
        if let Some(tell) = tell.take() {
            let _ = tell.send(Err(said.join("\n")));
        }
    });
    let address = match tokio::time::timeout(Duration::from_secs(30), listening).await {
        Ok(Ok(Ok(address))) => address,
        Ok(Ok(Err(said))) => {
            return Err(format!("{} exited before it listened for DevTools:\n{said}", program.display()));
        }
        Ok(Err(_)) => return Err(format!("{} exited before it listened for DevTools", program.display())),
        Err(_) => return Err(format!("{} did not start its DevTools listener within 30 s", program.display())),
    };
    let (browser, mut handler) = chromiumoxide::Browser::connect(address)
        .await
        .map_err(|e| format!("cannot drive {} over DevTools: {e}", program.display()))?;
    // Events this client cannot parse (a newer Chromium's) are skipped; the stream ends with the browser.
    let driver = tokio::spawn(async move { while handler.next().await.is_some() {} });
    Ok(Chromium { browser, driver, process, _folder: folder, ca_file: ca_file.map(str::to_string) })
}

/// The run's browser, started at the first browser effect and kept warm until golive ends. A browser that
/// trusts another CA file is started afresh.
#[derive(Default)]
pub struct BrowserConnector {
    warm: tokio::sync::Mutex<Option<Chromium>>,
}

impl BrowserConnector {
    pub async fn perform(&self, request: &BrowserRequest) -> Result<BrowserOutcome, String> {
        let mut warm = self.warm.lock().await;
        if warm.as_ref().is_some_and(|c| c.ca_file != request.ca_file) {
            *warm = None;
        }
        let chromium = match warm.take() {
            Some(chromium) => chromium,
            None => launch(request.ca_file.as_deref()).await?,
        };
        let result = match &request.task {
            Task::Vitals { url, interactions, runs } => {
                vitals(&chromium.browser, url, interactions, *runs).await.map(BrowserOutcome::Vitals)
            }
            Task::Flow { actions } => Ok(BrowserOutcome::Flow(flow(&chromium.browser, actions).await)),
        };
        // A browser that stopped answering is not kept: the next effect starts another.
        if chromium.browser.version().await.is_ok() {
            *warm = Some(chromium);
        }
        result
    }
}

/// A page in its own browser context (cookies and storage of its own, cache off). `close` ends both; a
/// task cancelled before that still closes its page when dropped, which stops its loads and scripts.
struct FreshPage {
    page: Option<Page>,
    context: BrowserContextId,
}

impl FreshPage {
    async fn open(browser: &chromiumoxide::Browser) -> Result<FreshPage, String> {
        use chromiumoxide::cdp::browser_protocol::target::{CreateBrowserContextParams, CreateTargetParams};
        let context = browser
            .create_browser_context(CreateBrowserContextParams::default())
            .await
            .map_err(|e| format!("the browser could not open a context: {e}"))?;
        let mut target = CreateTargetParams::new("about:blank");
        target.browser_context_id = Some(context.clone());
        let page = match browser.new_page(target).await {
            Ok(page) => page,
            Err(e) => {
                let _ = browser.dispose_browser_context(context).await;
                return Err(format!("the browser could not open a page: {e}"));
            }
        };
        let fresh = FreshPage { page: Some(page), context };
        fresh.page().execute(SetCacheDisabledParams::new(true)).await.map_err(|e| format!("cache: {e}"))?;
        Ok(fresh)
    }

    fn page(&self) -> &Page {
        self.page.as_ref().expect("open until closed")
    }

    async fn close(mut self, browser: &chromiumoxide::Browser) {
        if let Some(page) = self.page.take() {
            let _ = page.close().await;
        }
        let _ = browser.dispose_browser_context(self.context.clone()).await;
    }
}

impl Drop for FreshPage {
    fn drop(&mut self) {
        let (Some(page), Ok(runtime)) = (self.page.take(), tokio::runtime::Handle::try_current()) else { return };
        runtime.spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), page.close()).await;
        });
    }
}

/// Before interacting: the largest paint is reported (a candidate not yet reported when the first input
/// arrives is never reported), or three seconds went by.
const PAINTED: &str = "new Promise(done => { const t0 = performance.now(); const wait = () => { const v = window.__golive_vitals; \
  if ((v && v.lcp !== null) || performance.now() - t0 > 3000) { done(true); } else { setTimeout(wait, 20); } }; \
  requestAnimationFrame(() => requestAnimationFrame(wait)); })";

const SETTLE: &str = "new Promise(done => { const ready = () => document.readyState === 'complete' ? done(true) : setTimeout(ready, 25); ready(); })";

async fn vitals(
    browser: &chromiumoxide::Browser,
    url: &str,
    interactions: &[Action],
    runs: u32,
) -> Result<VitalsReport, String> {
    let mut samples = Vec::new();
    for run in 1..=runs {
        let fresh = FreshPage::open(browser).await?;
        let page = fresh.page();
        page.evaluate_on_new_document(OBSERVERS).await.map_err(|e| format!("cannot install the observers: {e}"))?;
        page.goto(url).await.map_err(|e| format!("run {run}: {url}: {e}"))?;
        page.evaluate(SETTLE).await.map_err(|e| format!("run {run}: {url} never finished loading: {e}"))?;
        page.evaluate(PAINTED).await.map_err(|e| format!("run {run}: {url} never painted: {e}"))?;
        let mut failed = None;
        for action in interactions {
            if let Err(e) = act(page, action, true).await {
                failed = Some(format!("run {run}: {}: {e}", action.describe()));
                break;
            }
        }
        let read = page.evaluate(READ_VITALS).await.map_err(|e| format!("run {run}: cannot read the vitals: {e}"))?;
        let observed: String = read.into_value().map_err(|e| format!("run {run}: cannot read the vitals: {e}"))?;
        fresh.close(browser).await;
        // An interaction that could not be done leaves INP unknown, never fast.
        samples.push(sample_from(&observed, !interactions.is_empty() && failed.is_none())?);
        if let Some(error) = failed {
            return Ok(VitalsReport { url: url.to_string(), median: median_of(&samples), samples, error });
        }
    }
    Ok(VitalsReport { url: url.to_string(), median: median_of(&samples), samples, error: String::new() })
}

/// How long a click's or a fill's element, and by default `wait_for`'s, may take to appear.
pub const ELEMENT_WAIT: Duration = Duration::from_secs(10);
/// The same on a page being measured: it has loaded and painted already, so what is not there is missing.
const MEASURED_ELEMENT_WAIT: Duration = Duration::from_secs(2);

async fn element(page: &Page, selector: &str, wait: Duration) -> Result<chromiumoxide::Element, String> {
    let until = Instant::now() + wait;
    loop {
        match page.find_element(selector).await {
            Ok(found) => return Ok(found),
            Err(_) if Instant::now() < until => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(_) => {
                return Err(format!("no element matches `{selector}` after {}", crate::duration::short(wait)));
            }
        }
    }
}

/// One action on the page. When measuring, text is typed as keys (INP needs real key events) and a click
/// is only a click; in flows text is inserted (any character, no keyboard layout) and a click that opens
/// a page waits for it.
async fn act(page: &Page, action: &Action, measuring: bool) -> Result<(), String> {
    use chromiumoxide::cdp::browser_protocol::input::InsertTextParams;
    match action {
        Action::Visit(url) => {
            page.goto(url.as_str()).await.map_err(|e| e.to_string())?;
            page.evaluate(SETTLE).await.map_err(|e| format!("never finished loading: {e}"))?;
            answered(page, measuring).await
        }
        Action::Fill { selector, text } => {
            let wait = if measuring { MEASURED_ELEMENT_WAIT } else { ELEMENT_WAIT };
            let found = element(page, selector, wait).await?;
            found.click().await.map_err(|e| e.to_string())?;
            if measuring {
                found.type_str(text).await.map(|_| ()).map_err(|e| e.to_string())
            } else {
                page.execute(InsertTextParams::new(text.as_str())).await.map(|_| ()).map_err(|e| e.to_string())
            }
        }
        Action::Click(selector) if measuring => {
            element(page, selector, MEASURED_ELEMENT_WAIT).await?.click().await.map(|_| ()).map_err(|e| e.to_string())
        }
        Action::Click(selector) => {
            use chromiumoxide::cdp::browser_protocol::page::{EventFrameStartedLoading, EventFrameStoppedLoading};
            let found = element(page, selector, ELEMENT_WAIT).await?;
            let listen = |e: chromiumoxide::error::CdpError| format!("cannot follow the page's loads: {e}");
            let mut starts = page.event_listener::<EventFrameStartedLoading>().await.map_err(listen)?;
            let mut stops = page.event_listener::<EventFrameStoppedLoading>().await.map_err(listen)?;
            found.click().await.map_err(|e| e.to_string())?;
            // A click that submits a form or follows a link starts a load at once: the next action looks at
            // the page it opens, not at the one it left.
            if tokio::time::timeout(Duration::from_millis(500), starts.next()).await.is_ok() {
                tokio::time::timeout(ELEMENT_WAIT, stops.next()).await.map_err(|_| {
                    format!("the page it opened did not finish loading within {} s", ELEMENT_WAIT.as_secs())
                })?;
                page.evaluate(SETTLE).await.map_err(|e| format!("never finished loading: {e}"))?;
                return answered(page, false).await;
            }
            Ok(())
        }
        Action::WaitFor(selector, wait) => element(page, selector, *wait).await.map(|_| ()),
        Action::Screenshot(path) => {
            use chromiumoxide::page::ScreenshotParams;
            let png = page.screenshot(ScreenshotParams::builder().build()).await.map_err(|e| e.to_string())?;
            write_whole(Path::new(path), &png)
        }
    }
}

/// A flow stops on a page the server answered with an error (4xx, 5xx) at once, rather than waiting for
/// elements an error page does not have; a page being measured is judged by its status later.
async fn answered(page: &Page, measuring: bool) -> Result<(), String> {
    if measuring {
        return Ok(());
    }
    const STATUS: &str = "((performance.getEntriesByType('navigation')[0] || {}).responseStatus || 0)";
    let status: u16 = page.evaluate(STATUS).await.map(|r| r.into_value().unwrap_or(0)).unwrap_or(0);
    if status >= 400 { Err(format!("the page answered HTTP {status}")) } else { Ok(()) }
}

/// Written beside the destination, then renamed: the file is whole or absent.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let partial = path.with_extension("golive-partial");
    let mut file = std::fs::File::create(&partial).map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).and_then(|()| std::fs::rename(&partial, path)).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        format!("cannot write {}: {e}", path.display())
    })
}

async fn flow(browser: &chromiumoxide::Browser, actions: &[Action]) -> FlowReport {
    let mut report = FlowReport::default();
    let fresh = match FreshPage::open(browser).await {
        Ok(fresh) => fresh,
        Err(e) => {
            report.error = e;
            return report;
        }
    };
    let page = fresh.page();
    report.ok = true;
    for action in actions {
        let started = Instant::now();
        if let Err(e) = act(page, action, false).await {
            report.ok = false;
            report.error = format!("{}: {e}", action.describe());
            break;
        }
        report.done.push(format!("{}: {} ms", action.describe(), started.elapsed().as_millis()));
        if let Action::Screenshot(path) = action {
            report.screenshots.push(path.clone());
        }
    }
    report.url = page.url().await.ok().flatten().unwrap_or_default();
    report.title = page.get_title().await.ok().flatten().unwrap_or_default();
    fresh.close(browser).await;
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interaction_the_browser_never_registered_leaves_inp_unknown() {
        let seen = r#"{"lcp":812.5,"cls":0.25,"fcp":400,"ttfb":35.2,"status":200,"inp":null,"first_input":null}"#;
        let sample = sample_from(seen, true).unwrap();
        assert_eq!(sample.inp_ms, None);
        assert_eq!(sample.cls, Some(0.25));
        let seen = r#"{"lcp":812.5,"cls":0,"fcp":400,"ttfb":35.2,"status":200,"inp":312,"first_input":8}"#;
        assert_eq!(sample_from(seen, true).unwrap().inp_ms, Some(312.0));
        // Without interactions there is no INP to report, whatever the page did by itself.
        assert_eq!(sample_from(seen, false).unwrap().inp_ms, None);
        assert!(sample_from("null", false).is_err());
    }

    #[test]
    fn the_median_skips_runs_that_did_not_observe_a_vital_and_a_changing_status_is_unknown() {
        let s = |lcp: Option<f64>, status: u16| Sample { status: Some(status), lcp_ms: lcp, ..Sample::default() };
        let m = median_of(&[s(Some(900.0), 200), s(None, 200), s(Some(300.0), 200), s(Some(600.0), 200)]);
        assert_eq!(m.lcp_ms, Some(600.0));
        assert_eq!(m.status, Some(200));
        assert_eq!(m.cls, None);
        assert_eq!(median_of(&[s(Some(1.0), 200), s(Some(1.0), 500)]).status, None);
    }
}
