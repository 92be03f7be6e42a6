//! The report printed to PDF by headless Chromium (`--print-to-pdf`), from the HTML file beside it. Chromium
//! runs in its own process group with a throwaway profile and HOME, dies with golive, and is stopped whole
//! when it takes too long; the PDF is written under a temporary name and renamed, never left half-written.

use std::path::Path;
use std::time::Duration;

/// How long Chromium may take to print one report.
const PRINT_TIMEOUT: Duration = Duration::from_secs(120);

pub async fn print(html: &Path, pdf: &Path) -> Result<(), String> {
    let program = crate::effects::browser::executable()?;
    let html = std::fs::canonicalize(html).map_err(|e| format!("cannot read {}: {e}", html.display()))?;
    let scratch = crate::effects::browser::TempFolder::new("golive-print")?;
    let partial = pdf.with_extension("pdf.partial");
    let mut command = crate::effects::browser::headless_command(&program, &scratch.0, &scratch.0);
    command
        .args(["--disable-gpu", "--no-pdf-header-footer"])
        .arg(format!("--print-to-pdf={}", partial.display()))
        .arg(format!("file://{}", html.display()));
    let child = command.spawn().map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let pgid = child.id();
    let output = match tokio::time::timeout(PRINT_TIMEOUT, child.wait_with_output()).await {
        Ok(output) => output.map_err(|e| format!("{}: {e}", program.display()))?,
        Err(_) => {
            if let Some(pgid) = pgid {
                // SAFETY: signals the process group golive started for Chromium, and nothing else.
                unsafe { libc::kill(-(pgid as i32), libc::SIGKILL) };
            }
            let _ = std::fs::remove_file(&partial);
            return Err(format!("Chromium did not print the report within {}s; stopped it", PRINT_TIMEOUT.as_secs()));
        }
    };
    if let Some(pgid) = pgid {
        // Helpers Chromium left behind (its zygote) go with it.
        // SAFETY: as above.
        unsafe { libc::kill(-(pgid as i32), libc::SIGKILL) };
    }
    let printed = std::fs::metadata(&partial).map(|m| m.len() > 0).unwrap_or(false);
    if !output.status.success() || !printed {
        let _ = std::fs::remove_file(&partial);
        let said = String::from_utf8_lossy(&output.stderr);
        let last = said.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
        return Err(format!(
            "Chromium could not print the report ({}): {}",
            output.status,
            crate::terminal::printable(last)
        ));
    }
    std::fs::rename(&partial, pdf).map_err(|e| format!("cannot write {}: {e}", pdf.display()))
}
