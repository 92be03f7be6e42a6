//! The Rhai engine with golive's syntax, modules and stdlib, and script loading with diagnostics.

pub mod diagnostics;
pub mod gate_board;
pub mod outline;
pub mod stdlib;
pub mod syntax;
pub mod words;

use std::rc::Rc;

use rhai::{AST, Engine, OptimizationLevel, Scope};

use self::diagnostics::{Diagnostic, SourceMap, from_eval_error, from_parse_error};
use self::outline::{KnownFunctions, Outline};
use self::stdlib::Stdlib;
use crate::error::Failure;
use crate::modules::{FnDoc, Host, Registrar};

/// An engine ready to compile and run scripts, with everything needed to explain its errors.
pub struct Loaded {
    pub engine: Engine,
    pub sources: SourceMap,
    pub known: KnownFunctions,
    pub docs: Vec<FnDoc>,
    /// The `config` keys the loaded stdlib modules read.
    pub config_reads: outline::ConfigReads,
}

pub fn build(host: &Rc<Host>, stdlib: &Stdlib, color: bool) -> Result<Loaded, Failure> {
    let mut engine = Engine::new();
    // Full optimisation would run effectful functions at compile time, and Simple drops dead steps the
    // static listing must see; golive's cost is in the world, not in the interpreter.
    engine.set_optimization_level(OptimizationLevel::None);
    engine.set_strict_variables(true);
    engine.set_fail_on_invalid_map_property(true);
    engine.set_max_call_levels(64);
    // Rhai's defaults (64, and 32 inside functions) reject an ordinary options map inside a loop in a stdlib function.
    engine.set_max_expr_depths(128, 96);

    let mut registrar = Registrar::default();
    syntax::register(&mut engine, host);
    crate::modules::core::register(&mut engine, &mut registrar, host);
    crate::modules::local::register(&mut engine, &mut registrar, host);
    crate::modules::ssh::register(&mut engine, &mut registrar, host);
    crate::modules::envfile::register(&mut engine, &mut registrar, host);
    crate::modules::docker::register(&mut engine, &mut registrar, host);
    crate::modules::drush::register(&mut engine, &mut registrar, host);
    crate::modules::prompt::register(&mut engine, &mut registrar, host);
    crate::modules::http::register(&mut engine, &mut registrar, host);
    crate::modules::tls::register(&mut engine, &mut registrar, host);
    crate::modules::dns::register(&mut engine, &mut registrar, host);
    crate::modules::browser::register(&mut engine, &mut registrar, host);
    crate::modules::s3::register(&mut engine, &mut registrar, host);
    crate::modules::stripe::register(&mut engine, &mut registrar, host);
    crate::modules::report::register(&mut engine, &mut registrar, host);
    crate::modules::logs::register(&mut engine, &mut registrar, host);
    crate::modules::message::register(&mut engine, &mut registrar, host);
    crate::modules::notify::register(&mut engine, &mut registrar, host);
    crate::modules::metrics::register(&mut engine, &mut registrar, host);
    crate::modules::runbook::register(&mut engine, &mut registrar, host);

    let h = Rc::clone(host);
    engine.on_print(move |text| h.controller.output(text));
    let h = Rc::clone(host);
    engine.on_debug(move |text, source, pos| {
        let at = match (source, pos.line()) {
            (Some(s), Some(l)) => format!("[{s}:{l}] "),
            _ => String::new(),
        };
        h.controller.output(&format!("debug {at}{text}"));
    });
    let h = Rc::clone(host);
    // Ctrl-C and a step's deadline are looked at every 256 operations (well under a millisecond): looking
    // at every one cost a fifth of the interpreter's time on Rhai's own benchmarks.
    engine.on_progress(move |operations| if operations.is_multiple_of(256) { h.controller.poll() } else { None });

    let mut sources = SourceMap::default();
    let mut known = registrar.known;
    // Which stdlib function calls which: one that reaches an effect is itself an effect (the lint and the
    // docs must say so, or `golive check` passes a call that fails at run time outside a step).
    let mut calls: Vec<(String, Vec<String>)> = Vec::new();
    let mut docs = registrar.docs;
    let mut config_reads = outline::ConfigReads::default();
    add_standard_functions(&engine, &mut known);
    for module in &stdlib.modules {
        sources.add(&module.source_name, &module.text);
        let diagnose = |d: Diagnostic, sources: &SourceMap| {
            Failure::Usage(format!(
                "{}  (in the stdlib module loaded from {})",
                sources.render(&d, color),
                stdlib.origin
            ))
        };
        let mut ast = engine
            .compile(&module.text)
            .map_err(|e| diagnose(from_parse_error(&e, &module.source_name, &known), &sources))?;
        ast.set_source(module.source_name.as_str());
        calls.extend(calls_by_function(&ast, &module.name));
        config_reads.extend(&outline::ConfigReads::of(&ast));
        for f in ast.iter_functions() {
            let full = format!("{}::{}", module.name, f.name);
            known.add(&full, f.params.len());
            // Closures compile to functions named anon$<hash>: nothing a script can call by name.
            if f.name.starts_with("anon$") {
                continue;
            }
            docs.push(FnDoc {
                module: module.name.clone(),
                name: f.name.to_string(),
                params: f.params.iter().map(|p| p.to_string()).collect(),
                returns: String::new(),
                // A run of `///` lines may come as one comment: each line loses its marker.
                doc: f
                    .comments
                    .iter()
                    .flat_map(|c| c.lines())
                    .map(|l| l.trim().trim_start_matches("///").trim())
                    .collect::<Vec<_>>()
                    .join(" "),
                effectful: false,
                options: false,
            });
        }
        let compiled = rhai::Module::eval_ast_as_new(Scope::new(), &ast, &engine)
            .map_err(|e| diagnose(from_eval_error(&e, &module.source_name), &sources))?;
        engine.register_static_module(module.name.as_str(), compiled.into());
    }
    loop {
        let before = known.effectful.len();
        for (function, called) in &calls {
            if called.iter().any(|c| known.effectful.contains(c)) {
                known.effectful.insert(function.clone());
            }
        }
        if known.effectful.len() == before {
            break;
        }
    }
    for doc in docs.iter_mut().filter(|d| !d.module.is_empty()) {
        doc.effectful |= known.effectful.contains(&format!("{}::{}", doc.module, doc.name));
    }
    Ok(Loaded { engine, sources, known, docs, config_reads })
}

/// For each function of a stdlib module, the functions it calls by full name (a call without a namespace is
/// to its own module). A call belongs to the function whose body's span holds its position.
fn calls_by_function(ast: &rhai::AST, module: &str) -> Vec<(String, Vec<String>)> {
    let at = |p: rhai::Position| (p.line().unwrap_or(0), p.position().unwrap_or(0));
    type Span = ((usize, usize), (usize, usize));
    let mut functions: Vec<(Span, String, Vec<String>)> = ast
        .iter_fn_def()
        .map(|def| {
            let span = (at(def.body.start_position()), at(def.body.end_position()));
            (span, format!("{module}::{}", def.name), Vec::new())
        })
        .collect();
    ast.walk(&mut |path: &[rhai::ASTNode]| {
        if let Some(rhai::ASTNode::Expr(rhai::Expr::FnCall(call, pos))) = path.last()
            && let Some(function) = functions.iter_mut().find(|f| f.0.0 <= at(*pos) && at(*pos) <= f.0.1)
        {
            let namespace = call.namespace.path.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join("::");
            function.2.push(if namespace.is_empty() {
                format!("{module}::{}", call.name)
            } else {
                format!("{namespace}::{}", call.name)
            });
        }
        true
    });
    functions.into_iter().map(|(_, name, called)| (name, called)).collect()
}

/// Rhai's own functions (string, array, map, math...), by name and arity, for the unknown-function lint.
/// Read from the functions' metadata: formatting every signature only to parse it back cost as much as
/// compiling the whole stdlib.
fn add_standard_functions(engine: &Engine, known: &mut KnownFunctions) {
    let functions = engine.collect_fn_metadata(
        None,
        |info: rhai::FuncInfo| {
            // Static modules are registered with their own arities; private functions cannot be called.
            let callable = info.namespace.is_empty() && info.metadata.access == rhai::FnAccess::Public;
            callable.then(|| {
                let name = info.metadata.name.as_str();
                let name = name.strip_prefix("get$").or_else(|| name.strip_prefix("set$")).unwrap_or(name);
                (name.to_string(), info.metadata.num_params)
            })
        },
        true,
    );
    for (name, arity) in functions {
        known.add(&name, arity);
    }
}

impl Loaded {
    /// A runtime error as a diagnostic, with the signatures of the function it could not match.
    pub fn explain(&self, err: &rhai::EvalAltResult, file: &str) -> Diagnostic {
        let mut diagnostic = from_eval_error(err, file);
        if let Some(name) = diagnostic.message.strip_prefix("no function `").and_then(|m| m.split('`').next()) {
            let signatures: Vec<String> = self
                .docs
                .iter()
                .filter(|d| d.module.is_empty() && d.name == name || format!("{}::{}", d.module, d.name) == name)
                .map(|d| d.signature())
                .collect();
            if !signatures.is_empty() {
                diagnostic.notes.push(format!("it takes: {}", signatures.join("  or  ")));
            }
        }
        diagnostic
    }
}

/// A compiled script and what the static walk found in it.
pub struct Script {
    pub ast: AST,
    pub outline: Outline,
}

/// Compiles and lints; every problem comes back rendered, positioned in the file at fault.
pub fn compile(loaded: &mut Loaded, name: &str, text: &str, color: bool) -> Result<Script, Failure> {
    loaded.sources.add(name, text);
    // A repeated step's item variable (`step "x" for host in hosts`) is known to the compiler as a name the
    // step binds; the outline refuses it outside its step.
    let mut items = Scope::new();
    for name in outline::item_variables(text) {
        items.push_constant(name, ());
    }
    let mut ast = loaded.engine.compile_with_scope(&items, text).map_err(|e| {
        let diagnostic = diagnostics::keyword_misuse(from_parse_error(&e, name, &loaded.known), text);
        Failure::Usage(loaded.sources.render(&diagnostic, color))
    })?;
    ast.set_source(name);
    let outline = outline::outline(&ast, text, name, &loaded.known).map_err(|errors| {
        Failure::Usage(errors.iter().map(|d| loaded.sources.render(d, color)).collect::<Vec<_>>().join("\n"))
    })?;
    Ok(Script { ast, outline })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The metadata gives the same names and arities as Rhai's printed signatures, read back.
    #[test]
    fn standard_functions_from_metadata_match_the_printed_signatures() {
        let engine = Engine::new();
        let mut from_metadata = KnownFunctions::default();
        add_standard_functions(&engine, &mut from_metadata);
        let mut printed = KnownFunctions::default();
        for signature in engine.gen_fn_signatures(true) {
            let (name, rest) = signature.split_once('(').expect("a signature has its parameters in parentheses");
            let name = name.trim_start_matches("get$").trim_start_matches("set$");
            let params = rest.rsplit_once(')').map(|(p, _)| p).unwrap_or("");
            let mut depth = 0;
            let mut arity = usize::from(!params.trim().is_empty());
            for c in params.chars() {
                match c {
                    '(' | '<' | '[' => depth += 1,
                    ')' | '>' | ']' => depth -= 1,
                    ',' if depth == 0 => arity += 1,
                    _ => {}
                }
            }
            if !name.contains("::") {
                printed.add(name, arity);
            }
        }
        assert!(from_metadata.arities.len() > 100, "{} functions", from_metadata.arities.len());
        assert_eq!(from_metadata.arities, printed.arities);
    }
}
