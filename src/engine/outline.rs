//! What a script contains, read from its AST without running it: phases, steps and their source hashes,
//! and the mistakes that must stop a run before it starts (DESIGN.md: run semantics 1 and 2).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rhai::{AST, ASTNode, Expr, Position, Stmt};
use serde::Serialize;

use super::diagnostics::Diagnostic;
use super::words::{after_whole_word, is_word_byte};
pub use crate::modules::known::{KEYWORD_CALLS, KnownFunctions};
use crate::suggest::did_you_mean;

pub const PHASE: &str = "phase";
/// The keywords that make a step: each is journaled, checkpointed and resumable.
pub const STEP_KINDS: [&str; 4] = ["step", "check", "manual", "gate"];

#[derive(Debug, Clone, Serialize)]
pub struct OutlineStep {
    pub kind: String,
    pub name: String,
    pub phase: Option<String>,
    pub line: usize,
    pub col: usize,
    #[serde(skip)]
    pub source_sha256: String,
    /// The script uses the step's value (`let v = gate "..."`), rather than writing it as a bare statement.
    #[serde(skip)]
    pub value_used: bool,
    /// `step "upgrade" for host in hosts`: "host in hosts"; each item is its own step, "upgrade [web2]".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub each: Option<String>,
    /// Where a repeated step's items come from, when the script says it plainly (a list of strings, a
    /// `config("key")`, or a top-level variable bound to one of them).
    #[serde(skip)]
    pub items: Option<Items>,
    /// The items' step names ("restart [web1]"), once `golive steps` resolved them against golive.toml.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<String>,
    /// The variable the step's value goes to (`let v = step ...`, `v = check ...`).
    #[serde(skip)]
    pub binds: Option<String>,
    /// The variables its body reads: a plan's step that reads a value resting on assumed reads rests on
    /// them too.
    #[serde(skip)]
    pub reads: BTreeSet<String>,
    /// `survives: "why"`: the author's reason a fault of its reads may leave the verdict passing
    /// (`golive test --faults`).
    #[serde(skip)]
    pub survives: Option<String>,
}

/// A repeated step's list, as far as it is known before the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Items {
    Listed(Vec<String>),
    Config(String),
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Outline {
    pub phases: Vec<String>,
    pub steps: Vec<OutlineStep>,
    /// Every `config("literal")` the script reads without a default: each must resolve for the run's target.
    #[serde(skip)]
    pub config_keys: Vec<ConfigUse>,
    /// Every `secret("LITERAL")` the script names: loaded and masked from the start of a run (resume too),
    /// so a secret read only inside an already-done step is still masked.
    #[serde(skip)]
    pub secret_names: BTreeSet<String>,
    /// Outside steps, which variables each variable's value is computed from (`let y = x.a * 2`,
    /// `list.push(c)`): how a plan carries an assumption from one step's value to a later step.
    #[serde(skip)]
    pub derived: BTreeMap<String, BTreeSet<String>>,
    /// Outside steps, the variables given a secret's value (`let key = secret("X")`), with the secret's
    /// name: in a plan without live reads they hold its placeholder.
    #[serde(skip)]
    pub secret_values: BTreeMap<String, String>,
    /// Every key the script reads with `config`, for holding `--var` keys against.
    #[serde(skip)]
    pub config_reads: ConfigReads,
}

/// The keys `config("key"[, default])` reads, written as literals, and whether some call computes its key.
#[derive(Debug, Clone, Default)]
pub struct ConfigReads {
    pub keys: BTreeSet<String>,
    pub computed: bool,
}

impl ConfigReads {
    pub fn of(ast: &AST) -> ConfigReads {
        let mut reads = ConfigReads::default();
        ast.walk(&mut |path: &[ASTNode]| {
            if let Some(ASTNode::Expr(Expr::FnCall(call, _))) = path.last()
                && call.name == "config"
                && call.namespace.is_empty()
            {
                match call.args.first() {
                    Some(Expr::StringConstant(key, _)) => {
                        reads.keys.insert(key.to_string());
                    }
                    _ => reads.computed = true,
                }
            }
            true
        });
        reads
    }

    pub fn extend(&mut self, other: &ConfigReads) {
        self.keys.extend(other.keys.iter().cloned());
        self.computed |= other.computed;
    }
}

#[derive(Debug, Clone)]
pub struct ConfigUse {
    pub key: String,
    pub line: usize,
    pub col: usize,
}

impl Outline {
    /// A step by name; an item of a repeated step ("upgrade [web2]") by the step it repeats.
    /// `seeds` (a variable and what it carries) and every variable computed from them outside steps,
    /// through `derived`, each with what it carries.
    pub fn carried(&self, seeds: BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut carried = seeds;
        loop {
            let more: Vec<(String, String)> = self
                .derived
                .iter()
                .filter(|(name, _)| !carried.contains_key(*name))
                .filter_map(|(name, from)| from.iter().find_map(|f| carried.get(f)).map(|c| (name.clone(), c.clone())))
                .collect();
            if more.is_empty() {
                return carried;
            }
            carried.extend(more);
        }
    }

    pub fn step(&self, name: &str) -> Option<&OutlineStep> {
        self.steps.iter().find(|s| s.name == name).or_else(|| {
            let (base, _) = name.strip_suffix(']')?.rsplit_once(" [")?;
            self.steps.iter().find(|s| s.name == base && s.each.is_some())
        })
    }
}

struct Walk<'a> {
    /// Top-level variables bound once to a plain list or `config("key")`: what a repeated step's list names.
    lists: HashMap<String, Option<Items>>,
    source: &'a str,
    /// The names `step "x" for NAME in ...` binds: each exists only inside its step.
    items: BTreeSet<String>,
    /// Where each line starts: positions become byte offsets without rescanning the source (a long script
    /// would be quadratic otherwise).
    lines: LineIndex,
    file: &'a str,
    known: &'a KnownFunctions,
    script_fns: HashMap<String, BTreeSet<usize>>,
    variables: BTreeSet<String>,
    properties: BTreeSet<String>,
    outline: Outline,
    seen: BTreeMap<String, Position>,
    required: Vec<Required>,
    /// Each literal checklist item's verdict name, with how many steps came before its checklist's step.
    checklist_items: Vec<(usize, String)>,
    /// A checklist whose title or items are computed: its verdicts' names are known only at run time.
    computed_checklist: bool,
    errors: Vec<Diagnostic>,
}

/// A name in a gate's literal `required` list.
struct Required {
    gate: String,
    /// How many steps came before the gate.
    before: usize,
    name: String,
    pos: Position,
    /// The runbooks the gate includes: their checks are named "script: name".
    included: Vec<String>,
}

pub fn outline(ast: &AST, source: &str, file: &str, known: &KnownFunctions) -> Result<Outline, Vec<Diagnostic>> {
    let mut walk = Walk {
        lists: HashMap::new(),
        source,
        items: item_variables(source).into_iter().collect(),
        lines: LineIndex::new(source),
        file,
        known,
        script_fns: HashMap::new(),
        variables: BTreeSet::new(),
        properties: BTreeSet::new(),
        outline: Outline::default(),
        seen: BTreeMap::new(),
        required: Vec::new(),
        checklist_items: Vec::new(),
        computed_checklist: false,
        errors: Vec::new(),
    };
    for f in ast.iter_fn_def() {
        walk.script_fns.entry(f.name.to_string()).or_default().insert(f.params.len());
    }
    // Names bound anywhere: a variable holding a function pointer may be called like a function.
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Stmt(Stmt::Var(x, ..))) => {
                walk.variables.insert(x.0.name.to_string());
            }
            Some(ASTNode::Stmt(Stmt::For(x, ..))) => {
                walk.variables.insert(x.0.name.to_string());
                if let Some(counter) = &x.1 {
                    walk.variables.insert(counter.name.to_string());
                }
            }
            Some(ASTNode::Expr(Expr::Map(x, _))) => {
                walk.properties.extend(x.0.iter().map(|(ident, _)| ident.name.to_string()));
            }
            _ => {}
        }
        true
    });
    for f in ast.iter_fn_def() {
        walk.variables.extend(f.params.iter().map(|p| p.to_string()));
    }
    for stmt in ast.statements() {
        if let Stmt::Var(x, ..) = stmt {
            let known = plain_list(&x.1);
            // Bound twice: which binding a step sees depends on the run; say nothing.
            let entry = walk.lists.entry(x.0.name.to_string()).or_insert(known.clone());
            if *entry != known {
                *entry = None;
            }
        }
    }
    let mut path = Vec::new();
    for stmt in ast.statements() {
        stmt.walk(&mut path, &mut |p: &[ASTNode]| walk.visit(p, None));
    }
    for f in ast.iter_fn_def() {
        // An AST holding this one function and no statements: its walk visits only the function's body.
        let (name, arity) = (f.name.as_str(), f.params.len());
        let only_this = ast.clone_functions_only_filtered(|_, _, _, n, a| n == name && a == arity);
        only_this.walk(&mut |p: &[ASTNode]| walk.visit(p, Some(name)));
    }
    walk.check_required();
    walk.outline.config_reads = ConfigReads::of(ast);
    walk.outline.derived = derived(ast);
    walk.outline.secret_values = secret_values(ast);
    if walk.errors.is_empty() { Ok(walk.outline) } else { Err(walk.errors) }
}

impl Walk<'_> {
    fn visit(&mut self, path: &[ASTNode], in_fn: Option<&str>) -> bool {
        let Some(ASTNode::Expr(expr)) = path.last() else { return true };
        let ancestors = &path[..path.len() - 1];
        match expr {
            Expr::Custom(custom, pos) => {
                let keyword = custom.tokens[0].as_str();
                if STEP_KINDS.contains(&keyword) {
                    self.step(keyword, custom, *pos, ancestors, in_fn);
                } else if keyword == PHASE
                    && in_fn.is_none()
                    && let Some(Expr::StringConstant(name, _)) = custom.inputs.first()
                {
                    self.outline.phases.push(name.to_string());
                    self.options(PHASE, name, custom);
                }
            }
            Expr::FnCall(call, pos) if call.op_token.is_none() => {
                let namespace = call.namespace.path.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join("::");
                let full =
                    if namespace.is_empty() { call.name.to_string() } else { format!("{namespace}::{}", call.name) };
                if full == "secret"
                    && let [Expr::StringConstant(name, _)] = call.args.as_slice()
                {
                    self.outline.secret_names.insert(name.to_string());
                }
                if full == "prompt::checklist" {
                    self.checklist(&call.args);
                }
                if full == "config"
                    && let [Expr::StringConstant(key, _)] = call.args.as_slice()
                {
                    self.outline.config_keys.push(ConfigUse {
                        key: key.to_string(),
                        line: pos.line().unwrap_or(0),
                        col: pos.position().unwrap_or(0),
                    });
                }
                self.call(&full, call.args.len(), *pos, ancestors, in_fn);
            }
            // Closures are functions of their own (walked apart): a closure in the step may capture the item.
            Expr::Variable(x, _, pos)
                if in_fn.is_none() && self.items.contains(x.1.as_str()) && !self.variables.contains(x.1.as_str()) =>
            {
                let name = x.1.as_str();
                let bound_here = ancestors.iter().any(|node| match node {
                    ASTNode::Expr(Expr::Custom(c, _)) if c.tokens.iter().any(|t| t == "for") => {
                        matches!(c.inputs.get(1), Some(Expr::Variable(v, ..)) if v.1.as_str() == name)
                    }
                    _ => false,
                });
                if !bound_here {
                    self.error(
                        *pos,
                        format!(
                            "`{name}` is the item of a repeated step (`step \"...\" for {name} in ...`): it exists only \
                             inside that step's block"
                        ),
                    );
                }
            }
            Expr::MethodCall(call, pos) => {
                let name = call.name.as_str();
                let known = self.known.arities.contains_key(name)
                    || self.script_fns.contains_key(name)
                    || self.properties.contains(name)
                    || KEYWORD_CALLS.contains(&name);
                if !known {
                    let hint = did_you_mean(name, self.known.names_in(None));
                    self.error(*pos, format!("no method `{name}` exists{hint}"));
                }
            }
            _ => {}
        }
        true
    }

    fn step(
        &mut self,
        kind: &str,
        custom: &rhai::CustomExpr,
        pos: Position,
        ancestors: &[ASTNode],
        in_fn: Option<&str>,
    ) {
        let Some(Expr::StringConstant(name, _)) = custom.inputs.first() else { return };
        let name = name.to_string();
        if let Some(f) = in_fn {
            self.error(pos, format!("{kind} \"{name}\" is inside function `{f}`; steps must be written in the script body, so golive can list and resume them"));
            return;
        }
        if let Some(outer) = enclosing(ancestors, &STEP_KINDS) {
            self.error(pos, format!("{kind} \"{name}\" is inside {} \"{}\"; steps cannot nest", outer.0, outer.1));
            return;
        }
        let in_loop =
            ancestors.iter().any(|node| matches!(node, ASTNode::Stmt(Stmt::For(..) | Stmt::While(..) | Stmt::Do(..))));
        if in_loop {
            self.error(
                pos,
                format!(
                    "{kind} \"{name}\" is inside a loop: each pass would be the same checkpoint, and a resume could not \
                     tell the items apart; repeat the step itself instead, each item its own checkpoint:\n    \
                     {kind} \"{name}\" for host in hosts {{ ... }}"
                ),
            );
            return;
        }
        if let Some(first) = self.seen.get(&name) {
            let at = first.line().unwrap_or(0);
            self.error(pos, format!("a step named \"{name}\" already exists at line {at}; step names identify checkpoints, so each must be unique"));
            return;
        }
        self.seen.insert(name.clone(), pos);
        self.options(kind, &name, custom);
        let end = custom.inputs.last().and_then(|e| match e {
            Expr::Stmt(block) => Some(block.end_position()),
            _ => None,
        });
        let text = self.lines.slice(self.source, pos, end);
        self.outline.steps.push(OutlineStep {
            kind: kind.to_string(),
            name,
            phase: enclosing(ancestors, &[PHASE]).map(|p| p.1),
            line: pos.line().unwrap_or(0),
            col: pos.position().unwrap_or(0),
            source_sha256: crate::digest::sha256_hex(text.as_bytes()),
            value_used: !matches!(ancestors.last(), Some(ASTNode::Stmt(Stmt::Expr(_)))),
            each: each(custom, self.source, &self.lines),
            items: match custom.inputs.get(2).filter(|_| custom.tokens.iter().any(|t| t == "for")) {
                Some(Expr::Variable(v, ..)) => self.lists.get(v.1.as_str()).cloned().flatten(),
                Some(list) => plain_list(list),
                None => None,
            },
            instances: Vec::new(),
            binds: match ancestors.last() {
                Some(ASTNode::Stmt(Stmt::Var(x, ..))) => Some(x.0.name.to_string()),
                Some(ASTNode::Stmt(Stmt::Assignment(x))) => root_variable(&x.1.lhs).map(str::to_string),
                _ => None,
            },
            reads: custom.inputs.iter().flat_map(variables_read).collect(),
            survives: literal_option(custom, "survives"),
        });
    }

    /// Options written as a literal map are checked before anything runs: an unknown key names the step.
    fn options(&mut self, kind: &str, name: &str, custom: &rhai::CustomExpr) {
        let repeated = custom.tokens.iter().any(|t| t == "for");
        let at = if repeated { 3 } else { 1 };
        let Some(Expr::Map(map, _)) = custom.inputs.get(at) else { return };
        const STEP: &[&str] = &["timeout", "retries", "retry_delay", "idempotent", "required", "section", "survives"];
        // What only a step repeated per item means: how its items go.
        const REPEATED: &[&str] = &["canary", "max_fail", "serial"];
        let allowed: Vec<&str> = match (kind, repeated) {
            (PHASE, _) => vec!["window", "owner", "budget", "section"],
            ("gate", _) => vec!["required", "include", "nogo", "on_nogo", "section"],
            (_, true) => [STEP, REPEATED].concat(),
            _ => STEP.to_vec(),
        };
        for (key, value) in map.0.iter() {
            if allowed.contains(&key.name.as_str()) {
                // A value written as a literal is judged now, as the step would judge it when it starts.
                if let Some(problem) = value
                    .get_literal_value(None)
                    .and_then(|v| super::syntax::literal_option_problem(kind, &key.name, v))
                {
                    self.error(value.position(), format!("{kind} \"{name}\": `{}`: {problem}", key.name));
                }
                if kind == "gate" && key.name == "required" {
                    self.required_by_gate(name, value, &map.0);
                }
            } else {
                let hint = did_you_mean(&key.name, allowed.iter().copied());
                let only_repeated = if REPEATED.contains(&key.name.as_str()) {
                    format!(" (it is for a repeated step: {kind} \"{name}\" for host in hosts with #{{ ... }})")
                } else {
                    String::new()
                };
                self.error(
                    key.pos,
                    format!(
                        "{kind} \"{name}\": no option `{}`{hint}{only_repeated} (its options: {})",
                        key.name,
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    fn call(&mut self, full: &str, arity: usize, pos: Position, ancestors: &[ASTNode], in_fn: Option<&str>) {
        let (module, name) = match full.rsplit_once("::") {
            Some((m, n)) => (Some(m), n),
            None => (None, full),
        };
        if module.is_none() && (KEYWORD_CALLS.contains(&name) || self.variables.contains(name)) {
            return;
        }
        let arities =
            self.known.arities.get(full).or_else(|| if module.is_none() { self.script_fns.get(full) } else { None });
        match arities {
            None => {
                let hint = did_you_mean(
                    name,
                    self.known.names_in(module).into_iter().chain(if module.is_none() {
                        self.script_fns.keys().map(String::as_str).collect()
                    } else {
                        vec![]
                    }),
                );
                self.error(pos, format!("no function `{full}` exists{hint}"));
                return;
            }
            Some(arities) if !arities.contains(&arity) => {
                let takes = arities.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(" or ");
                self.error(
                    pos,
                    format!(
                        "`{full}` takes {takes} argument(s), but is given {arity}; see `golive docs{}`",
                        module.map(|m| format!(" {m}")).unwrap_or_default()
                    ),
                );
                return;
            }
            Some(_) => {}
        }
        if self.known.effectful.contains(full) && in_fn.is_none() && enclosing(ancestors, &STEP_KINDS).is_none() {
            self.error(
                pos,
                format!("`{full}` acts on the world, so it must run inside a step; wrap it in `step \"...\" {{ }}`"),
            );
        }
    }

    /// A checklist's items are verdicts a gate can require, "title: item": known before the run when the
    /// title and the items are written as literals.
    fn checklist(&mut self, args: &[Expr]) {
        let literal = |e: &Expr| if let Expr::StringConstant(s, _) = e { Some(s.to_string()) } else { None };
        let title = args.first().and_then(literal);
        let items: Option<Vec<String>> = match args.get(1) {
            Some(Expr::Array(items, _)) => items.iter().map(literal).collect(),
            _ => None,
        };
        match (title, items) {
            (Some(title), Some(items)) => {
                let at = self.outline.steps.len();
                self.checklist_items.extend(items.into_iter().map(|item| (at, format!("{title}: {item}"))));
            }
            _ => self.computed_checklist = true,
        }
    }

    /// A gate's literal `required` names, held against the steps before it once the walk is done.
    fn required_by_gate(&mut self, gate: &str, required: &Expr, options: &[(rhai::Ident, Expr)]) {
        let Expr::Array(names, _) = required else { return };
        let included: Vec<String> = options
            .iter()
            .find(|(key, _)| key.name == "include")
            .and_then(|(_, value)| match value {
                Expr::Array(scripts, _) => Some(
                    scripts
                        .iter()
                        .filter_map(|s| if let Expr::StringConstant(s, _) = s { Some(s.to_string()) } else { None })
                        .collect(),
                ),
                _ => None,
            })
            .unwrap_or_default();
        for name in names.iter() {
            if let Expr::StringConstant(text, pos) = name {
                self.required.push(Required {
                    gate: gate.to_string(),
                    before: self.outline.steps.len(),
                    name: text.to_string(),
                    pos: *pos,
                    included: included.clone(),
                });
            }
        }
    }

    /// Each required name must be a verdict the gate can weigh: a check, manual item or step before it (a
    /// repeated one by its name, meaning all its items, or one item's "name [item]"), or one of an included
    /// runbook's ("friday: name").
    fn check_required(&mut self) {
        for required in std::mem::take(&mut self.required) {
            let earlier = &self.outline.steps[..required.before.min(self.outline.steps.len())];
            let checklist =
                self.checklist_items.iter().any(|(at, name)| *at <= required.before && *name == required.name)
                    || (self.computed_checklist && required.name.contains(": "));
            let found = checklist
                || earlier.iter().any(|s| {
                    s.name == required.name
                        || (s.each.is_some()
                            && required
                                .name
                                .strip_prefix(s.name.as_str())
                                .is_some_and(|rest| rest.starts_with(" [") && rest.ends_with(']')))
                })
                || required.included.iter().any(|script| required.name.starts_with(&format!("{script}: ")));
            if found {
                continue;
            }
            let later = self.outline.steps[required.before.min(self.outline.steps.len())..]
                .iter()
                .any(|s| s.name == required.name);
            let hint = if later {
                " (it comes after the gate: a gate weighs only what ran before it)".to_string()
            } else {
                did_you_mean(&required.name, earlier.iter().filter(|s| s.kind != "gate").map(|s| s.name.as_str()))
            };
            self.error(
                required.pos,
                format!(
                    "gate \"{}\" requires \"{}\", which names no check, manual item or step before it{hint}",
                    required.gate, required.name
                ),
            );
        }
    }

    fn error(&mut self, pos: Position, message: String) {
        self.errors.push(Diagnostic::at(self.file, pos, message));
    }
}

/// A list of strings, or `config("key")`, as written.
fn plain_list(expr: &Expr) -> Option<Items> {
    match expr {
        Expr::Array(items, _) => items
            .iter()
            .map(|i| match i {
                Expr::StringConstant(s, _) => Some(s.to_string()),
                _ => None,
            })
            .collect::<Option<Vec<String>>>()
            .map(Items::Listed),
        Expr::FnCall(call, _) if call.name == "config" && call.namespace.path.is_empty() => {
            match call.args.as_slice() {
                [Expr::StringConstant(key, _)] => Some(Items::Config(key.to_string())),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A step option written as a literal string (`with #{ survives: "the page is static" }`).
fn literal_option(custom: &rhai::CustomExpr, key: &str) -> Option<String> {
    let at = if custom.tokens.iter().any(|t| t == "for") { 3 } else { 1 };
    let Some(Expr::Map(map, _)) = custom.inputs.get(at) else { return None };
    map.0.iter().find(|(k, _)| k.name == key).and_then(|(_, v)| match v {
        Expr::StringConstant(s, _) => Some(s.to_string()),
        _ => None,
    })
}

/// The variable an assignment or a method call ultimately changes (`x`, `x.a`, `x[1].b`).
fn root_variable(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Variable(v, ..) => Some(v.1.as_str()),
        Expr::Dot(x, ..) | Expr::Index(x, ..) => root_variable(&x.lhs),
        _ => None,
    }
}

/// Every variable an expression reads, closures' captures included (they are passed in by name).
fn variables_read(expr: &Expr) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    expr.walk(&mut Vec::new(), &mut |path: &[ASTNode]| {
        if let Some(ASTNode::Expr(Expr::Variable(v, ..))) = path.last() {
            names.insert(v.1.to_string());
        }
        true
    });
    names
}

/// Outside steps, which variables each variable is computed from: `let y = expr` and `y = expr` (y from
/// what expr reads), `y.push(x)` and `f(y, x)` (y from x). By name, whatever the scope: a plan that
/// over-reaches calls a value unknown, never an unknown one known. A step's own value is not here: the
/// plan knows at run time whether it rested on assumed reads.
fn derived(ast: &AST) -> BTreeMap<String, BTreeSet<String>> {
    let mut from: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let in_step = path[..path.len().saturating_sub(1)]
            .iter()
            .any(|n| matches!(n, ASTNode::Expr(Expr::Custom(c, _)) if STEP_KINDS.contains(&c.tokens[0].as_str())));
        let is_step = |e: &Expr| matches!(e, Expr::Custom(c, _) if STEP_KINDS.contains(&c.tokens[0].as_str()));
        let (target, sources): (Option<&str>, Vec<&Expr>) = match path.last() {
            _ if in_step => (None, vec![]),
            Some(ASTNode::Stmt(Stmt::Var(x, ..))) if !is_step(&x.1) => (Some(x.0.name.as_str()), vec![&x.1]),
            Some(ASTNode::Stmt(Stmt::Assignment(x))) if !is_step(&x.1.rhs) => {
                (root_variable(&x.1.lhs), vec![&x.1.rhs, &x.1.lhs])
            }
            Some(ASTNode::Expr(Expr::Dot(x, ..))) if matches!(x.rhs, Expr::MethodCall(..)) => {
                (root_variable(&x.lhs), vec![&x.rhs])
            }
            Some(ASTNode::Expr(Expr::FnCall(call, _))) if call.namespace.is_empty() => {
                (call.args.first().and_then(root_variable), call.args.iter().skip(1).collect())
            }
            _ => (None, vec![]),
        };
        if let Some(target) = target {
            let read: BTreeSet<String> = sources.into_iter().flat_map(variables_read).filter(|n| n != target).collect();
            if !read.is_empty() {
                from.entry(target.to_string()).or_default().extend(read);
            }
        }
        true
    });
    from
}

/// The variables that decide whether the code at `at` runs: those read by the condition of every `if`,
/// `while` and `do` whose body holds it.
pub fn deciding_variables(ast: &AST, at: Position) -> BTreeSet<String> {
    let key = |p: Position| (p.line().unwrap_or(0), p.position().unwrap_or(0));
    let within = |block: &rhai::StmtBlock| {
        let (start, end) = (block.position(), block.end_position());
        !start.is_none() && !end.is_none() && key(start) <= key(at) && key(at) <= key(end)
    };
    let mut names = BTreeSet::new();
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Stmt(Stmt::If(x, _) | Stmt::While(x, _) | Stmt::Do(x, _, _))) = path.last()
            && (within(&x.body) || within(&x.branch))
        {
            names.extend(variables_read(&x.expr));
        }
        true
    });
    names
}

/// Outside steps, `let v = ... secret("NAME") ...` and `v = ...`: v holds the secret NAME (or `?` when
/// the name is computed).
fn secret_values(ast: &AST) -> BTreeMap<String, String> {
    fn secret_in(expr: &Expr) -> Option<String> {
        let mut found = None;
        expr.walk(&mut Vec::new(), &mut |path: &[ASTNode]| {
            if let Some(ASTNode::Expr(Expr::FnCall(call, _))) = path.last()
                && call.namespace.is_empty()
                && call.name == "secret"
            {
                found = Some(match call.args.as_slice() {
                    [Expr::StringConstant(name, _)] => name.to_string(),
                    _ => "?".to_string(),
                });
            }
            found.is_none()
        });
        found
    }
    let mut values = BTreeMap::new();
    for stmt in ast.statements() {
        stmt.walk(&mut Vec::new(), &mut |path: &[ASTNode]| {
            let in_step = path
                .iter()
                .any(|n| matches!(n, ASTNode::Expr(Expr::Custom(c, _)) if STEP_KINDS.contains(&c.tokens[0].as_str())));
            let bound = match path.last() {
                _ if in_step => None,
                Some(ASTNode::Stmt(Stmt::Var(x, ..))) => secret_in(&x.1).map(|s| (x.0.name.to_string(), s)),
                Some(ASTNode::Stmt(Stmt::Assignment(x))) => {
                    root_variable(&x.1.lhs).zip(secret_in(&x.1.rhs)).map(|(v, s)| (v.to_string(), s))
                }
                _ => None,
            };
            values.extend(bound);
            !in_step
        });
    }
    values
}

/// `step "x" for host in hosts`: "host in hosts", read back from the source.
fn each(custom: &rhai::CustomExpr, source: &str, lines: &LineIndex) -> Option<String> {
    if !custom.tokens.iter().any(|t| t == "for") {
        return None;
    }
    let variable = match custom.inputs.get(1)? {
        Expr::Variable(x, ..) => x.1.to_string(),
        _ => return None,
    };
    let list = custom.inputs.get(2)?;
    let from = lines.offset(source, list.position())?;
    let rest = &source[from..];
    let end = rest.find([' ', '{', '\n']).unwrap_or(rest.len());
    let list = rest[..end].trim();
    Some(format!("{variable} in {list}"))
}

/// The variables `step "x" for VAR in ...` introduces: compiled as known names (strict variables), since
/// the step gives each its value, item by item. Read from the text, before it compiles: a scan by hand,
/// since building the equivalent regex cost more than compiling the script.
pub fn item_variables(source: &str) -> Vec<String> {
    let mut names: Vec<String> = ["step", "check"]
        .iter()
        .flat_map(|keyword| after_whole_word(source, keyword))
        .filter_map(repeated_item)
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// After `step` or `check`: ` "name" for VAR in`, the VAR.
fn repeated_item(text: &str) -> Option<&str> {
    let rest = at_least_one_space(text)?.strip_prefix('"')?;
    let mut chars = rest.char_indices();
    let closing = loop {
        match chars.next()? {
            (_, '\\') => {
                chars.next()?;
            }
            (at, '"') => break at,
            _ => {}
        }
    };
    let rest = at_least_one_space(&rest[closing + 1..])?.strip_prefix("for")?;
    let rest = at_least_one_space(rest)?;
    let end = rest.bytes().position(|b| !is_word_byte(b)).unwrap_or(rest.len());
    let variable = &rest[..end];
    if variable.is_empty() || variable.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let rest = at_least_one_space(&rest[end..])?.strip_prefix("in")?;
    if rest.bytes().next().is_some_and(is_word_byte) { None } else { Some(variable) }
}

fn at_least_one_space(text: &str) -> Option<&str> {
    let rest = text.trim_start();
    (rest.len() < text.len()).then_some(rest)
}

/// The nearest enclosing custom syntax among `keywords`: (keyword, name).
fn enclosing(ancestors: &[ASTNode], keywords: &[&str]) -> Option<(String, String)> {
    ancestors.iter().rev().find_map(|node| match node {
        ASTNode::Expr(Expr::Custom(c, _)) if keywords.contains(&c.tokens[0].as_str()) => match c.inputs.first() {
            Some(Expr::StringConstant(name, _)) => Some((c.tokens[0].to_string(), name.to_string())),
            _ => None,
        },
        _ => None,
    })
}

/// The byte offset where each line starts.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(source: &str) -> LineIndex {
        LineIndex { starts: std::iter::once(0).chain(source.match_indices('\n').map(|(i, _)| i + 1)).collect() }
    }

    /// Rhai positions are 1-based lines and 1-based character columns.
    fn offset(&self, source: &str, pos: Position) -> Option<usize> {
        let (line, col) = (pos.line()?, pos.position().unwrap_or(1));
        let line_start = *self.starts.get(line.checked_sub(1)?)?;
        let rest = &source[line_start..];
        let offset = rest.char_indices().nth(col.saturating_sub(1)).map(|(i, _)| i).unwrap_or(rest.len());
        Some(line_start + offset)
    }

    /// The source text from `start` to `end` (inclusive), or the rest of the start line without an end.
    fn slice<'s>(&self, source: &'s str, start: Position, end: Option<Position>) -> &'s str {
        let from = self.offset(source, start).unwrap_or(0);
        let to = match end.and_then(|e| self.offset(source, e)) {
            Some(to) => (to + 1).min(source.len()),
            None => source[from..].find('\n').map_or(source.len(), |n| from + n),
        };
        source.get(from..to.max(from)).unwrap_or("")
    }
}

/// Rhai positions are 1-based lines and 1-based character columns.
pub fn byte_offset(source: &str, pos: Position) -> Option<usize> {
    let (line, col) = (pos.line()?, pos.position().unwrap_or(1));
    let line_start = if line == 1 { 0 } else { source.match_indices('\n').nth(line - 2).map(|(i, _)| i + 1)? };
    let rest = &source[line_start..];
    let offset = rest.char_indices().nth(col.saturating_sub(1)).map(|(i, _)| i).unwrap_or(rest.len());
    Some(line_start + offset)
}

#[cfg(test)]
mod tests {
    use super::item_variables;

    #[test]
    fn item_variables_are_those_of_repeated_steps_and_checks_only() {
        let source = "step \"deploy \\\"web\\\"\" for host in hosts { }\n\
                      check \"up\"\tfor  site in sites { }\n\
                      laststep \"x\" for nope in list { }\n\
                      step \"y\" for host in more { }\n\
                      for item in list { }\n\
                      step \"z\" for inner inside { }\n";
        assert_eq!(item_variables(source), ["host", "site"]);
        assert_eq!(item_variables("step \"café ✓\"\nfor\u{a0}node_2 in nodes {}"), ["node_2"]);
        assert!(item_variables("step \"unterminated for x in y").is_empty());
        assert!(item_variables("").is_empty());
    }
}
