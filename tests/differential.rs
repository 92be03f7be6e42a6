//! Scripts mean what they say, held against stock Rhai: generated programs (lets at script, phase and body
//! level, shadowing, maps and arrays indexed by the item, closures capturing and changing outer values,
//! functions with early returns, nested loops) run by a stock `rhai::Engine` in their plain form, `for ITEM
//! in LIST { BODY }`, and by the golive binary in each of its forms (`step ... for`, `check ... for`,
//! `serial: 1` and `serial: 3`, inside a phase, a plain `step` holding the loop), in a run and in a plan.
//! What each prints must be the same.
//!
//! A case is one program in one form and one mode. `GOLIVE_DIFFERENTIAL_PROGRAMS` sets how many programs
//! (default 500, each 7 forms x 2 modes: 7,000 cases); the seed is fixed, `GOLIVE_DIFFERENTIAL_SEED` picks another.
//! A failure is shrunk to a small program and printed whole: keep it under tests/differential-cases/ (the
//! file's sections are the program's parts), where every file is run on every test run.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use crate::common::{Project, plan_prints};

/// A program's parts, as text.
#[derive(Debug, Clone, PartialEq)]
struct Program {
    /// Functions, constants and script-level lets.
    prelude: String,
    /// Lets at the top of a phase (rebinding script-level names to new values of the same type).
    phase: String,
    item: String,
    list: String,
    body: String,
}

impl Program {
    fn forms(&self) -> Vec<(&'static str, String, String)> {
        let Program { phase, item, list, body, .. } = self;
        let each = format!("{item} in {list}");
        vec![
            ("step for", format!("step \"s1\" for {each} {{\n{body}}}"), format!("for {each} {{\n{body}}}")),
            (
                "check for",
                format!("check \"s2\" for {each} {{\n{body}true\n}}"),
                format!("for {each} {{\n{body}true\n}}"),
            ),
            (
                "serial 1",
                format!("step \"s3\" for {each} with #{{ serial: 1 }} {{\n{body}}}"),
                format!("for {each} {{\n{body}}}"),
            ),
            (
                "serial 3",
                format!("step \"s4\" for {each} with #{{ serial: 3 }} {{\n{body}}}"),
                format!("for {each} {{\n{body}}}"),
            ),
            (
                "in a phase",
                format!("phase \"p5\" {{\n{phase}step \"s5\" for {each} {{\n{body}}}\n}}"),
                format!("{{\n{phase}for {each} {{\n{body}}}\n}}"),
            ),
            (
                "plain step",
                format!("step \"s6\" {{\nfor {each} {{\n{body}}}\n}}"),
                format!("{{\nfor {each} {{\n{body}}}\n}}"),
            ),
            (
                "check in a phase, serial 3",
                format!("phase \"p7\" {{\n{phase}check \"s7\" for {each} with #{{ serial: 3 }} {{\n{body}true\n}}\n}}"),
                format!("{{\n{phase}for {each} {{\n{body}true\n}}\n}}"),
            ),
        ]
    }

    /// The golive script and the stock program: the prelude, then each form after a line naming it.
    fn scripts(&self) -> (String, String) {
        let (mut golive, mut stock) = (self.prelude.clone(), self.prelude.clone());
        for (name, ours, theirs) in self.forms() {
            let _ = writeln!(golive, "print(\"== {name}\");\n{ours}");
            let _ = writeln!(stock, "print(\"== {name}\");\n{theirs}");
        }
        (golive, stock)
    }

    fn to_file(&self) -> String {
        format!(
            "// prelude\n{}// phase\n{}// item\n{}\n// list\n{}\n// body\n{}",
            self.prelude, self.phase, self.item, self.list, self.body
        )
    }

    fn from_file(text: &str) -> Program {
        let mut parts = std::collections::BTreeMap::new();
        let mut current = String::new();
        for line in text.lines() {
            if let Some(name) =
                line.strip_prefix("// ").filter(|n| ["prelude", "phase", "item", "list", "body"].contains(n))
            {
                current = name.to_string();
                parts.insert(current.clone(), String::new());
            } else if let Some(part) = parts.get_mut(&current) {
                part.push_str(line);
                part.push('\n');
            }
        }
        let part = |name: &str| parts.get(name).cloned().unwrap_or_default();
        Program {
            prelude: part("prelude"),
            phase: part("phase"),
            item: part("item").trim().to_string(),
            list: part("list").trim().to_string(),
            body: part("body"),
        }
    }
}

/// What stock Rhai prints for the program, and whether it ended without an error.
fn stock(program: &str) -> (String, Result<(), String>) {
    let printed = Rc::new(RefCell::new(String::new()));
    let mut engine = rhai::Engine::new();
    // A string that doubles in every pass of every loop grows past any memory: such a program is not run.
    engine.set_max_string_size(20_000);
    engine.set_max_array_size(5_000);
    engine.set_max_operations(2_000_000);
    let sink = Rc::clone(&printed);
    engine.on_print(move |text| {
        sink.borrow_mut().push_str(text);
        sink.borrow_mut().push('\n');
    });
    let ended = engine.run(program).map_err(|e| e.to_string());
    let text = printed.borrow().clone();
    (text, ended)
}

/// The differences between stock Rhai and golive for one program, in run and plan; empty when none. Err
/// for a program that outgrows stock Rhai's limits (a string or a number doubled in every pass): not compared.
fn compare(project: &Project, program: &Program) -> Result<Vec<String>, String> {
    let (ours, theirs) = program.scripts();
    let (expected, ended) = stock(&theirs);
    if let Err(e) = &ended
        && (e.contains("too large") || e.contains("Too many operations") || e.contains("overflow"))
    {
        return Err(e.clone());
    }
    assert!(ended.is_ok(), "the generator made a program stock Rhai refuses: {ended:?}\n{theirs}");
    project.write("program.rhai", &ours);
    let mut differences = Vec::new();
    let run = project.golive(&["-q", "program.rhai"]);
    let plan = project.golive(&["plan", "program.rhai"]);
    for (mode, code, printed, stderr) in [
        ("run", run.code, run.stdout.clone(), &run.stderr),
        ("plan", plan.code, plan_prints(&plan.stdout), &plan.stderr),
    ] {
        if code != 0 || printed != expected {
            differences.push(format!(
                "{mode} (exit {code}):\n{}\n{stderr}",
                similar::TextDiff::from_lines(&expected, &printed).unified_diff().header("stock rhai", "golive")
            ));
        }
    }
    Ok(differences)
}

// ---------------------------------------------------------------------------------------------------------
// The generator: a tree of choices that a builder turns into a well-typed program, so that shrinking the
// choices shrinks the program and every program is one stock Rhai runs to its end.

#[derive(Debug, Clone)]
struct Choice {
    kind: u8,
    a: u8,
    b: u8,
    inner: Vec<Choice>,
}

fn choice() -> impl Strategy<Value = Choice> {
    let leaf = (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(kind, a, b)| Choice { kind, a, b, inner: vec![] });
    leaf.prop_recursive(2, 12, 3, |inner| {
        (any::<u8>(), any::<u8>(), any::<u8>(), vec(inner, 0..3)).prop_map(|(kind, a, b, inner)| Choice {
            kind,
            a,
            b,
            inner,
        })
    })
}

#[derive(Debug, Clone)]
struct Input {
    globals: Vec<(u8, u8)>,
    functions: u8,
    string_items: bool,
    items: u8,
    phase: Vec<(u8, u8)>,
    body: Vec<Choice>,
}

fn input() -> impl Strategy<Value = Input> {
    (
        vec((any::<u8>(), any::<u8>()), 1..6),
        0..3u8,
        any::<bool>(),
        1..5u8,
        vec((any::<u8>(), any::<u8>()), 0..3),
        vec(choice(), 1..7),
    )
        .prop_map(|(globals, functions, string_items, items, phase, body)| Input {
            globals,
            functions,
            string_items,
            items,
            phase,
            body,
        })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ty {
    Int,
    Str,
    /// An array of ints, at least 4 long (only ever pushed to).
    Arr,
    /// A map with the keys a, b, c and d, each an int.
    Map,
}

const TYPES: [Ty; 4] = [Ty::Int, Ty::Str, Ty::Arr, Ty::Map];
/// Variable names: few, so that lets at different levels shadow each other. `h` is also the item's name.
const NAMES: [&str; 6] = ["a", "b", "db_target", "ports", "h", "n"];
const KEYS: [&str; 4] = ["a", "b", "c", "d"];

struct Builder {
    /// Variables in scope, innermost last.
    scope: Vec<(String, Ty)>,
    functions: usize,
    string_items: bool,
    fresh: usize,
}

fn value(ty: Ty, n: u8) -> String {
    let n = i64::from(n);
    match ty {
        Ty::Int => n.to_string(),
        Ty::Str => format!("\"s{n}\""),
        Ty::Arr => format!("[{}, {}, {}, {}]", n, n + 1, n + 2, n + 3),
        Ty::Map => format!("#{{ a: {}, b: {}, c: {}, d: {} }}", n, n + 1, n + 2, n + 3),
    }
}

impl Builder {
    fn vars(&self, ty: Ty) -> Vec<String> {
        // The innermost binding of each name is the one a reference means.
        let mut seen = Vec::new();
        let mut found = Vec::new();
        for (name, t) in self.scope.iter().rev() {
            if seen.contains(name) || name.contains('#') {
                continue;
            }
            seen.push(name.clone());
            if *t == ty {
                found.push(name.clone());
            }
        }
        found
    }

    fn pick(&self, ty: Ty, n: u8) -> Option<String> {
        let vars = self.vars(ty);
        (!vars.is_empty()).then(|| vars[n as usize % vars.len()].clone())
    }

    /// A variable to change: never `h`, which indexes maps and arrays as long as it is the item.
    fn pick_mutable(&self, ty: Ty, n: u8) -> Option<String> {
        let vars: Vec<String> = self.vars(ty).into_iter().filter(|v| v != "h").collect();
        (!vars.is_empty()).then(|| vars[n as usize % vars.len()].clone())
    }

    fn expr(&self, ty: Ty, c: &Choice, depth: u8) -> String {
        let sub = |i: usize| c.inner.get(i).cloned().unwrap_or(Choice { kind: c.a, a: c.b, b: c.kind, inner: vec![] });
        let deeper = depth < 2;
        match ty {
            Ty::Int => match c.kind % 8 {
                1 => self.pick(Ty::Int, c.a).unwrap_or_else(|| c.b.to_string()),
                2 if deeper => format!("({} + {})", self.expr(Ty::Int, &sub(0), depth + 1), c.b % 10),
                3 if deeper && self.functions > 0 => {
                    format!("f{}({})", c.a as usize % self.functions, self.expr(Ty::Int, &sub(0), depth + 1))
                }
                4 => self.pick(Ty::Arr, c.a).map(|v| format!("{v}.len()")).unwrap_or_else(|| c.b.to_string()),
                5 => match (self.pick(Ty::Map, c.a), self.string_items && self.is_item_visible()) {
                    (Some(m), true) => format!("{m}[h]"),
                    (Some(m), false) => format!("{m}.{}", KEYS[c.b as usize % 4]),
                    _ => c.b.to_string(),
                },
                6 => match (self.pick(Ty::Arr, c.a), !self.string_items && self.is_item_visible()) {
                    (Some(v), true) => format!("{v}[h]"),
                    (Some(v), false) => format!("{v}[{}]", c.b % 4),
                    _ => c.b.to_string(),
                },
                7 if deeper => {
                    format!("(if {} {{ {} }} else {{ {} }})", self.cond(&sub(0), depth + 1), c.a % 10, c.b % 10)
                }
                _ => (c.b % 50).to_string(),
            },
            Ty::Str => match c.kind % 5 {
                1 => self.pick(Ty::Str, c.a).unwrap_or_else(|| format!("\"t{}\"", c.b % 10)),
                2 if deeper => {
                    let ty = TYPES[c.a as usize % 4];
                    format!("`<${{{}}}>`", self.any(ty, &sub(0), depth + 1))
                }
                3 if self.string_items && self.is_item_visible() => "h".into(),
                4 if deeper => format!("({} + \"-\")", self.expr(Ty::Str, &sub(0), depth + 1)),
                _ => format!("\"t{}\"", c.b % 10),
            },
            Ty::Arr | Ty::Map => self.pick(ty, c.a).unwrap_or_else(|| value(ty, c.b % 10)),
        }
    }

    fn any(&self, ty: Ty, c: &Choice, depth: u8) -> String {
        self.expr(ty, c, depth)
    }

    fn cond(&self, c: &Choice, depth: u8) -> String {
        let other = Choice { kind: c.b, a: c.kind, b: c.a, inner: vec![] };
        format!("{} < {}", self.expr(Ty::Int, c, depth), self.expr(Ty::Int, &other, depth))
    }

    /// Whether `h` means the item here: inside the body, and no let in it rebound `h`.
    fn is_item_visible(&self) -> bool {
        let item = self.scope.iter().position(|(n, _)| n == "h#item");
        let innermost = self.scope.iter().rposition(|(n, _)| n == "h");
        item.is_some_and(|at| innermost == Some(at + 1))
    }

    fn block(&mut self, choices: &[Choice], out: &mut String, depth: u8) {
        let mark = self.scope.len();
        for c in choices {
            self.stmt(c, out, depth);
        }
        self.scope.truncate(mark);
    }

    fn stmt(&mut self, c: &Choice, out: &mut String, depth: u8) {
        let first = c.inner.first().cloned().unwrap_or(Choice { kind: c.b, a: c.a, b: c.kind, inner: vec![] });
        match c.kind % 12 {
            1 => {
                let ty = TYPES[c.b as usize % 4];
                let name = NAMES[c.a as usize % NAMES.len()];
                let e = self.expr(ty, &first, 0);
                let _ = writeln!(out, "let {name} = {e};");
                self.scope.push((name.to_string(), ty));
            }
            2 => match self.pick_mutable(Ty::Int, c.a) {
                Some(v) => {
                    let _ = writeln!(out, "{v} += {};", self.expr(Ty::Int, &first, 1));
                }
                None => self.print(&first, out),
            },
            3 => match self.pick_mutable(Ty::Arr, c.a) {
                Some(v) => {
                    let _ = writeln!(out, "{v}.push({});", self.expr(Ty::Int, &first, 1));
                }
                None => self.print(&first, out),
            },
            4 => match self.pick_mutable(Ty::Map, c.a) {
                Some(m) if self.string_items && self.is_item_visible() => {
                    let _ = writeln!(out, "{m}[h] = {};", self.expr(Ty::Int, &first, 1));
                }
                Some(m) => {
                    let _ = writeln!(out, "{m}.{} = {};", KEYS[c.b as usize % 4], self.expr(Ty::Int, &first, 1));
                }
                None => self.print(&first, out),
            },
            5 if depth < 2 => {
                let _ = writeln!(out, "if {} {{", self.cond(&first, 1));
                let (then, other) = c.inner.split_at(c.inner.len() / 2);
                self.block(then, out, depth + 1);
                out.push_str("} else {\n");
                self.block(other, out, depth + 1);
                out.push_str("}\n");
            }
            6 if depth < 2 => {
                self.fresh += 1;
                let j = format!("j{}", self.fresh);
                let _ = writeln!(out, "for {j} in 0..{} {{", 1 + c.a % 3);
                if c.b.is_multiple_of(3) {
                    let _ = writeln!(out, "if {j} == 1 {{ continue; }}");
                }
                self.scope.push((j.clone(), Ty::Int));
                self.block(&c.inner, out, depth + 1);
                self.scope.pop();
                if c.b % 3 == 1 {
                    let _ = writeln!(out, "if {j} == 0 {{ break; }}");
                }
                out.push_str("}\n");
            }
            7 => match self.pick(Ty::Int, c.a) {
                // A closure reading an outer value.
                Some(v) => {
                    self.fresh += 1;
                    let _ = writeln!(out, "let c{0} = |x| x * 2 + {v};\nprint(c{0}.call({1}));", self.fresh, c.b % 10);
                }
                None => self.print(&first, out),
            },
            8 => match self.pick_mutable(Ty::Int, c.a) {
                // A closure changing an outer value.
                Some(v) => {
                    self.fresh += 1;
                    let _ =
                        writeln!(out, "let inc{0} = |by| {{ {v} += by; }};\ninc{0}.call({1});", self.fresh, c.b % 5);
                }
                None => self.print(&first, out),
            },
            9 => match self.pick_mutable(Ty::Str, c.a) {
                Some(v) => {
                    let _ = writeln!(out, "{v} += {};", self.expr(Ty::Str, &first, 1));
                }
                None => self.print(&first, out),
            },
            10 if depth < 2 => {
                // A block of its own, shadowing a name for a while.
                let ty = TYPES[c.b as usize % 4];
                let name = NAMES[c.a as usize % NAMES.len()];
                let _ = writeln!(out, "{{\nlet {name} = {};", self.expr(ty, &first, 0));
                let mark = self.scope.len();
                self.scope.push((name.to_string(), ty));
                self.block(&c.inner, out, depth + 1);
                let _ = writeln!(out, "print({name});");
                self.scope.truncate(mark);
                out.push_str("}\n");
            }
            11 if self.functions > 0 => {
                let _ = writeln!(out, "print(f{}({}));", c.a as usize % self.functions, self.expr(Ty::Int, &first, 1));
            }
            _ => self.print(c, out),
        }
    }

    fn print(&self, c: &Choice, out: &mut String) {
        let ty = TYPES[c.a as usize % 4];
        let _ = writeln!(out, "print({});", self.expr(ty, c, 0));
    }
}

fn build(input: &Input) -> Program {
    let mut b =
        Builder { scope: Vec::new(), functions: input.functions as usize, string_items: input.string_items, fresh: 0 };
    let mut prelude = String::new();
    prelude.push_str("const K = 7;\n");
    for f in 0..b.functions {
        // Functions see no outer variable; constants through `global::`; an early return.
        let _ =
            writeln!(prelude, "fn f{f}(x) {{\n    if x > 60 {{ return x - {}; }}\n    x * 2 + global::K\n}}", f + 1);
    }
    for (name, v) in &input.globals {
        let ty = TYPES[*v as usize % 4];
        let name = NAMES[*name as usize % NAMES.len()];
        let _ = writeln!(prelude, "let {name} = {};", value(ty, v / 4));
        b.scope.push((name.to_string(), ty));
    }
    // A phase rebinds script-level names to new values of the same type, so the body means the same in every form.
    let mut phase = String::new();
    for (name, v) in &input.phase {
        let vars: Vec<(String, Ty)> =
            TYPES.iter().flat_map(|ty| b.vars(*ty).into_iter().map(|n| (n, *ty))).filter(|(n, _)| n != "h").collect();
        if let Some((name, ty)) = vars.get(*name as usize % vars.len().max(1)).cloned() {
            let _ = writeln!(phase, "let {name} = {};", value(ty, v / 4 + 100));
        }
    }
    let count = input.items as usize;
    let list = if input.string_items {
        format!("[{}]", KEYS[..count].iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", "))
    } else {
        format!("[{}]", (0..count).map(|i| i.to_string()).collect::<Vec<_>>().join(", "))
    };
    let item_ty = if input.string_items { Ty::Str } else { Ty::Int };
    b.scope.push(("h#item".into(), item_ty));
    b.scope.push(("h".into(), item_ty));
    let mut body = String::new();
    b.block(&input.body, &mut body, 0);
    Program { prelude, phase, item: "h".into(), list, body }
}

#[test]
fn generated_programs_print_the_same_through_golive_in_every_form_as_through_stock_rhai() {
    // Stock Rhai recurses on the thread's stack while it parses and runs; a test thread's is small.
    on_a_large_stack(generated_programs);
}

fn on_a_large_stack(f: fn()) {
    let thread = std::thread::Builder::new().stack_size(256 << 20).spawn(f).unwrap();
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

fn generated_programs() {
    let programs: u32 = std::env::var("GOLIVE_DIFFERENTIAL_PROGRAMS").ok().and_then(|n| n.parse().ok()).unwrap_or(500);
    let project = Project::new();
    let config = Config {
        cases: programs,
        failure_persistence: None,
        max_shrink_iters: 400,
        max_global_rejects: programs.max(1024),
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(
            RngAlgorithm::ChaCha,
            &crate::common::seed("GOLIVE_DIFFERENTIAL_SEED", "golive differential 1"),
        ),
    );
    let started = std::time::Instant::now();
    let result = runner.run(&input(), |input| {
        let program = build(&input);
        match compare(&project, &program) {
            Err(too_large) => Err(TestCaseError::reject(too_large)),
            Ok(differences) if differences.is_empty() => Ok(()),
            Ok(differences) => Err(TestCaseError::fail(differences.join("\n"))),
        }
    });
    let forms = Program::from_file("").forms().len();
    eprintln!(
        "differential: {programs} programs, {} cases ({forms} forms x run and plan) in {:.1} s",
        programs as usize * forms * 2,
        started.elapsed().as_secs_f64()
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, input)) => panic!(
            "golive and stock Rhai differ (shrunk); keep it as tests/differential-cases/NAME.rhai:\n{}\n{why}",
            build(&input).to_file()
        ),
        Err(TestError::Abort(why)) => panic!("aborted: {why}"),
    }
}

/// Every failure the generator found, shrunk and kept.
#[test]
fn kept_regressions_print_the_same_through_golive_as_through_stock_rhai() {
    on_a_large_stack(kept_regressions);
}

fn kept_regressions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential-cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty(), "no regression in {}", dir.display());
    let project = Project::new();
    let mut failures = Vec::new();
    for file in files {
        let program = Program::from_file(&std::fs::read_to_string(&file).unwrap());
        for difference in compare(&project, &program).unwrap_or_else(|e| panic!("{}: {e}", file.display())) {
            failures.push(format!("{}: {difference}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_kept_program_reads_back_as_it_was_written() {
    let input = Input {
        globals: vec![(0, 3), (2, 5)],
        functions: 1,
        string_items: true,
        items: 2,
        phase: vec![(1, 9)],
        body: vec![Choice { kind: 7, a: 0, b: 3, inner: vec![] }, Choice { kind: 0, a: 1, b: 2, inner: vec![] }],
    };
    let program = build(&input);
    assert_eq!(Program::from_file(&program.to_file()), program);
}
