//! The errors golive raises inside the Rhai engine, below every layer that raises or reads them (run,
//! engine, modules): a positioned runtime error, and the uncatchable stop tokens that unwind a script.

use rhai::{EvalAltResult, Position};

/// Marks the engine error golive raises to unwind the script; scripts cannot catch it.
pub const STOP_TOKEN: &str = "golive-stop";
pub const INTERRUPT_TOKEN: &str = "golive-interrupt";
pub const DEADLINE_TOKEN: &str = "golive-deadline";

/// An ordinary (catchable) error at `pos`: what a module says when an effect or an argument is wrong.
pub fn runtime(message: String, pos: Position) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into(), pos).into()
}

/// The operator's Ctrl-C, however deep in function calls it surfaced.
pub fn is_interrupt(err: &EvalAltResult) -> bool {
    terminated_by(err) == Some(INTERRUPT_TOKEN)
}

/// Which of golive's stop tokens ended the evaluation, if one did.
pub fn terminated_by(err: &EvalAltResult) -> Option<&'static str> {
    match err {
        EvalAltResult::ErrorTerminated(token, _) => {
            let token = token.clone().into_string().unwrap_or_default();
            [INTERRUPT_TOKEN, DEADLINE_TOKEN, STOP_TOKEN].into_iter().find(|t| *t == token)
        }
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) | EvalAltResult::ErrorInModule(_, inner, _) => {
            terminated_by(inner)
        }
        _ => None,
    }
}
