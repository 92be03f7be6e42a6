//! The one instant a plan's clock shows, so plans stay deterministic: `now()` gives it as text and
//! `unix_time()` as seconds, and decisions in a plan are stamped with it.

pub const PLAN_NOW: &str = "2000-01-01T00:00:00+00:00";
pub const PLAN_TIMESTAMP: i64 = 946_684_800;
