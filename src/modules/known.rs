//! The functions a script may call, by full name and arity, and which of them act on the world: filled as
//! modules register and the stdlib loads, read by the lints before anything runs.

use std::collections::{BTreeSet, HashMap};

/// Functions a script may call: native ones and stdlib ones, by full name, with their arities.
#[derive(Debug, Default, Clone)]
pub struct KnownFunctions {
    pub arities: HashMap<String, BTreeSet<usize>>,
    /// Functions that touch the world: calling one outside a step is an error.
    pub effectful: BTreeSet<String>,
    pub modules: BTreeSet<String>,
}

/// Rhai keywords that look like calls but are not registered functions.
pub const KEYWORD_CALLS: [&str; 11] =
    ["print", "debug", "type_of", "Fn", "call", "curry", "is_def_fn", "is_def_var", "is_shared", "eval", "exit"];

impl KnownFunctions {
    /// Called for each of the thousand-odd functions at every start: a name already known allocates nothing.
    pub fn add(&mut self, full_name: &str, arity: usize) {
        if let Some(end) = full_name.as_bytes().windows(2).rposition(|pair| pair == b"::") {
            let module = &full_name[..end];
            if !self.modules.contains(module) {
                self.modules.insert(module.to_string());
            }
        }
        match self.arities.get_mut(full_name) {
            Some(arities) => {
                arities.insert(arity);
            }
            None => {
                self.arities.insert(full_name.to_string(), BTreeSet::from([arity]));
            }
        }
    }

    pub(crate) fn names_in(&self, module: Option<&str>) -> Vec<&str> {
        self.arities
            .keys()
            .filter(|k| match (module, k.rsplit_once("::")) {
                (Some(m), Some((km, _))) => km == m,
                (None, None) => true,
                _ => false,
            })
            .map(|k| k.rsplit_once("::").map_or(k.as_str(), |(_, n)| n))
            .collect()
    }
}
