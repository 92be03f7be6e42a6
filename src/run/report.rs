//! Tables for the operator: the go-live team and the emergency contacts.

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

/// `golive contacts`: the team (runbook 1.2) and the emergency contacts (runbook 10).
pub fn contacts(config: &crate::config::Config) -> String {
    let mut team = Table::new();
    team.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    team.set_header(vec!["Role", "Name", "Phone", "Responsibility"]);
    for m in &config.team {
        team.add_row(vec![m.role.as_str(), m.name.as_str(), m.phone.as_str(), m.duty.as_str()]);
    }
    let mut contacts = Table::new();
    contacts.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    contacts.set_header(vec!["Service", "Contact", "SLA", "Escalation"]);
    for c in &config.contacts {
        contacts.add_row(vec![c.service.as_str(), c.contact.as_str(), c.sla.as_str(), c.escalation.as_str()]);
    }
    let missing = |what: &str, key: &str| format!("no {what} in {} (add [[{key}]] entries)\n", config.path.display());
    let team = if config.team.is_empty() { missing("team", "team") } else { format!("{team}\n") };
    let contacts = if config.contacts.is_empty() { missing("contacts", "contacts") } else { format!("{contacts}\n") };
    format!("Go-live team\n{team}\nEmergency contacts\n{contacts}")
}
