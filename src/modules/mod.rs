//! Native modules: functions scripts call. They build effects, hand them to the controller (which hands them
//! to the World), and turn outcomes into script values. None of them does I/O.

pub mod browser;
pub mod core;
pub mod dns;
pub mod docker;
pub mod drush;
pub mod exec;
pub mod host;
pub mod http;
pub mod known;
pub mod local;
pub mod logs;
pub mod message;
pub mod metrics;
pub mod notify;
pub mod prompt;
pub mod report;
pub mod run_api;
pub mod runbook;
pub mod s3;
pub mod ssh;
pub mod stripe;
pub mod tls;
pub mod watch;

use rhai::{Engine, Module, RhaiNativeFunc, Variant};
use serde::Serialize;

pub use self::host::Host;
use self::known::KnownFunctions;

/// One function as `golive docs` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FnDoc {
    /// Empty for global functions.
    pub module: String,
    pub name: String,
    pub params: Vec<String>,
    pub returns: String,
    pub doc: String,
    pub effectful: bool,
}

impl FnDoc {
    pub fn signature(&self) -> String {
        let name = if self.module.is_empty() { self.name.clone() } else { format!("{}::{}", self.module, self.name) };
        let returns = if self.returns.is_empty() { String::new() } else { format!(" -> {}", self.returns) };
        format!("{name}({}){returns}", self.params.join(", "))
    }
}

/// Registers functions and remembers their docs, arities and whether they act on the world.
#[derive(Default)]
pub struct Registrar {
    pub docs: Vec<FnDoc>,
    pub known: KnownFunctions,
}

pub struct Sig<'a> {
    pub name: &'a str,
    pub params: &'a [&'a str],
    pub returns: &'a str,
    pub doc: &'a str,
    pub effectful: bool,
}

impl Registrar {
    fn note(&mut self, module: &str, sig: &Sig) {
        let full = if module.is_empty() { sig.name.to_string() } else { format!("{module}::{}", sig.name) };
        self.known.add(&full, sig.params.len());
        if sig.effectful {
            self.known.effectful.insert(full);
        }
        self.docs.push(FnDoc {
            module: module.into(),
            name: sig.name.into(),
            params: sig.params.iter().map(|p| p.to_string()).collect(),
            returns: sig.returns.into(),
            doc: sig.doc.into(),
            effectful: sig.effectful,
        });
    }

    fn registration(sig: &Sig) -> rhai::FuncRegistration {
        let mut info: Vec<String> = sig.params.iter().map(|p| p.to_string()).collect();
        info.push(sig.returns.to_string());
        rhai::FuncRegistration::new(sig.name)
            .with_volatility(sig.effectful)
            .with_params_info(info)
            .with_comments([format!("/// {}", sig.doc)])
    }

    pub fn global<A: 'static, const N: usize, const X: bool, R: Variant + Clone, const F: bool>(
        &mut self,
        engine: &mut Engine,
        sig: Sig,
        func: impl RhaiNativeFunc<A, N, X, R, F> + 'static,
    ) {
        self.note("", &sig);
        Self::registration(&sig).register_into_engine(engine, func);
    }

    pub fn in_module<A: 'static, const N: usize, const X: bool, R: Variant + Clone, const F: bool>(
        &mut self,
        module: &mut Module,
        module_name: &str,
        sig: Sig,
        func: impl RhaiNativeFunc<A, N, X, R, F> + 'static,
    ) {
        self.note(module_name, &sig);
        Self::registration(&sig).in_global_namespace().set_into_module(module, func);
    }
}
