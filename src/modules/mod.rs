//! Native modules: functions scripts call. They build effects, hand them to the controller (which hands them
//! to the World), and turn outcomes into script values. None of them does I/O.

pub mod browser;
pub mod core;
pub mod dns;
pub mod docker;
pub mod drush;
pub mod envfile;
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

use rhai::{Engine, EvalAltResult, Map, Module, NativeCallContext, RhaiNativeFunc, Variant};
use serde::Serialize;

pub use self::host::Host;
use self::known::KnownFunctions;

/// Whether a script value is one of golive's handles (a target, a compose project, an HTTP session or
/// response): values that name something in the world, with getters and no setters, so a copy of one is
/// as good as the one it was copied from.
pub fn is_handle(value: &rhai::Dynamic) -> bool {
    value.is::<core::TargetHandle>()
        || value.is::<docker::Compose>()
        || value.is::<http::Session>()
        || value.is::<http::Response>()
}

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
    /// A trailing options map may be given or left out (one entry for both forms).
    pub options: bool,
}

impl FnDoc {
    pub fn signature(&self) -> String {
        let name = if self.module.is_empty() { self.name.clone() } else { format!("{}::{}", self.module, self.name) };
        let returns = if self.returns.is_empty() { String::new() } else { format!(" -> {}", self.returns) };
        let options = match (self.options, self.params.is_empty()) {
            (false, _) => "",
            (true, true) => "[options: map]",
            (true, false) => "[, options: map]",
        };
        format!("{name}({}{options}){returns}", self.params.join(", "))
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

impl Sig<'_> {
    /// The same function with a trailing options map.
    fn params_with_options(&self) -> Vec<&str> {
        self.params.iter().copied().chain(["options: map"]).collect()
    }
}

/// Where a registration goes: a module (its functions also callable as methods), or the engine itself.
pub trait Destination {
    fn put<A: 'static, const N: usize, const X: bool, R: Variant + Clone, const F: bool>(
        &mut self,
        registration: rhai::FuncRegistration,
        func: impl RhaiNativeFunc<A, N, X, R, F> + 'static,
    );
}

impl Destination for Module {
    fn put<A: 'static, const N: usize, const X: bool, R: Variant + Clone, const F: bool>(
        &mut self,
        registration: rhai::FuncRegistration,
        func: impl RhaiNativeFunc<A, N, X, R, F> + 'static,
    ) {
        registration.in_global_namespace().set_into_module(self, func);
    }
}

impl Destination for Engine {
    fn put<A: 'static, const N: usize, const X: bool, R: Variant + Clone, const F: bool>(
        &mut self,
        registration: rhai::FuncRegistration,
        func: impl RhaiNativeFunc<A, N, X, R, F> + 'static,
    ) {
        registration.register_into_engine(self, func);
    }
}

/// A function whose last parameter is an options map, given once and registered twice: with the map, and
/// without it (an empty map). Implemented for functions of one to four parameters before the map.
pub trait OptionsFn<Args>: Clone + 'static {
    fn put_both(self, into: &mut impl Destination, short: rhai::FuncRegistration, long: rhai::FuncRegistration);
}

macro_rules! options_fn {
    ($($arg:ident),+) => {
        impl<F, R, $($arg),+> OptionsFn<($($arg,)+)> for F
        where
            F: Fn(NativeCallContext, $($arg,)+ Map) -> Result<R, Box<EvalAltResult>> + Clone + 'static,
            R: Variant + Clone,
            $($arg: Variant + Clone,)+
        {
            #[allow(non_snake_case)]
            fn put_both(self, into: &mut impl Destination, short: rhai::FuncRegistration, long: rhai::FuncRegistration) {
                let without = self.clone();
                into.put(short, move |ctx: NativeCallContext, $($arg: $arg),+| without(ctx, $($arg,)+ Map::new()));
                into.put(long, move |ctx: NativeCallContext, $($arg: $arg,)+ options: Map| self(ctx, $($arg,)+ options));
            }
        }
    };
}
options_fn!(A);
options_fn!(A, B);
options_fn!(A, B, C);
options_fn!(A, B, C, D);

impl Registrar {
    /// Records a function's arities (with and without a trailing options map, when `options`) for the lints,
    /// and its docs once.
    fn note(&mut self, module: &str, sig: &Sig, options: bool) {
        let full = if module.is_empty() { sig.name.to_string() } else { format!("{module}::{}", sig.name) };
        self.known.add(&full, sig.params.len());
        if options {
            self.known.add(&full, sig.params.len() + 1);
        }
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
            options,
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
        self.note("", &sig, false);
        engine.put(Self::registration(&sig), func);
    }

    /// `name(params..)` and `name(params.., options: map)` in a module, from one function of the options.
    pub fn in_module_with_options<Args>(
        &mut self,
        module: &mut Module,
        module_name: &str,
        sig: Sig,
        func: impl OptionsFn<Args>,
    ) {
        self.with_options(module, module_name, sig, func);
    }

    /// `name(params..)` and `name(params.., options: map)` as global functions, from one function.
    pub fn global_with_options<Args>(&mut self, engine: &mut Engine, sig: Sig, func: impl OptionsFn<Args>) {
        self.with_options(engine, "", sig, func);
    }

    fn with_options<Args>(&mut self, into: &mut impl Destination, module: &str, sig: Sig, func: impl OptionsFn<Args>) {
        let long_params = sig.params_with_options();
        let long = Sig { params: &long_params, ..sig };
        self.note(module, &sig, true);
        func.put_both(into, Self::registration(&sig), Self::registration(&long));
    }

    pub fn in_module<A: 'static, const N: usize, const X: bool, R: Variant + Clone, const F: bool>(
        &mut self,
        module: &mut Module,
        module_name: &str,
        sig: Sig,
        func: impl RhaiNativeFunc<A, N, X, R, F> + 'static,
    ) {
        self.note(module_name, &sig, false);
        module.put(Self::registration(&sig), func);
    }
}
