//! The runbook document's numbered headings ("3. Deploy & Migration", "3.2 Backup Final"): the report's
//! sections, in the document's order and language.

/// A numbered heading of the runbook document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    /// "3", "3.2".
    pub number: String,
    pub title: String,
}

impl Heading {
    /// 1 for "3", 2 for "3.2".
    pub fn level(&self) -> usize {
        self.number.split('.').count()
    }

    /// The top-level section it belongs to ("3" for "3.2").
    pub fn chapter(&self) -> &str {
        self.number.split('.').next().unwrap_or_default()
    }
}

/// The headings in order: chapters written "3. Title", parts "3.2 Title". A numbered line counts only where
/// it continues the numbering (the next chapter, or the next part of the current one), so table rows and
/// list items that start with a number are not taken for headings.
pub fn headings(text: &str) -> Vec<Heading> {
    let mut out: Vec<Heading> = Vec::new();
    let (mut chapter, mut part) = (0u32, 0u32);
    for line in text.lines() {
        let line = line.trim();
        let Some((token, title)) = line.split_once(char::is_whitespace) else { continue };
        let number = token.trim_end_matches('.');
        let title = title.trim();
        if title.is_empty() {
            continue;
        }
        let parts: Vec<Option<u32>> = number.split('.').map(|p| p.parse().ok()).collect();
        match parts.as_slice() {
            // A chapter is written "3." (a bare "3 horas" is text); a part "3.2".
            [Some(c)] if *c == chapter + 1 && token.ends_with('.') => {
                chapter = *c;
                part = 0;
            }
            [Some(c), Some(p)] if *c == chapter && *p == part + 1 => part = *p,
            _ => continue,
        }
        out.push(Heading { number: number.to_string(), title: title.to_string() });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_headings_in_order_and_nothing_else() {
        let text = "GO-LIVE RUNBOOK\n1. Resumen\n1.1 Cronograma\nFase\tDuración\n2. Pre-Go-Live (Viernes)\n\
                    2.1 Verificación\n100% Smoke tests\t\tSÍ\n3 horas de trabajo\n2.2 Servicios\n";
        let found: Vec<(String, String)> = headings(text).into_iter().map(|h| (h.number, h.title)).collect();
        let want = [
            ("1", "Resumen"),
            ("1.1", "Cronograma"),
            ("2", "Pre-Go-Live (Viernes)"),
            ("2.1", "Verificación"),
            ("2.2", "Servicios"),
        ];
        assert_eq!(found, want.map(|(n, t)| (n.to_string(), t.to_string())));
    }

    #[test]
    fn the_seed_runbook_has_its_ten_chapters() {
        let seed = include_str!("../../../docs/go-live-runbook.txt");
        let chapters: Vec<String> = headings(seed).into_iter().filter(|h| h.level() == 1).map(|h| h.number).collect();
        assert_eq!(chapters, (1..=10).map(|n| n.to_string()).collect::<Vec<_>>());
    }
}
