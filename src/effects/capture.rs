//! Command output with a cap: past it the head and the tail are kept and the gap is said, so a command that
//! prints gigabytes cannot exhaust golive's memory (golive.toml `output_cap`, bytes per stream).

use std::collections::VecDeque;

use tokio::io::{AsyncRead, AsyncReadExt};

/// The default cap per stream: 8 MiB.
pub const DEFAULT_OUTPUT_CAP: usize = 8 * 1024 * 1024;

/// Reads `reader` to its end, keeping at most `cap` bytes: the first half and the last half.
pub async fn read_capped<R: AsyncRead + Unpin>(reader: R, cap: usize) -> std::io::Result<Vec<u8>> {
    read_capped_lines(reader, cap, None).await
}

/// The longest line handed to `on_line` in one piece; a longer one comes in pieces of this size.
const LONGEST_LINE: usize = 16 * 1024;

/// As `read_capped`, and each line is handed to `on_line` as it arrives (without its line break; a last
/// line without one at the end), whatever the cap keeps.
pub async fn read_capped_lines<R: AsyncRead + Unpin>(
    mut reader: R,
    cap: usize,
    on_line: Option<&dyn Fn(&str)>,
) -> std::io::Result<Vec<u8>> {
    let mut pending: Vec<u8> = Vec::new();
    let keep_head = cap / 2;
    let keep_tail = cap - keep_head;
    let mut head = Vec::new();
    let mut tail: VecDeque<u8> = VecDeque::new();
    let mut dropped: u64 = 0;
    // 16 KiB a read: most commands print less, and zeroing more for each of them showed in profiles.
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        if let Some(on_line) = on_line {
            pending.extend_from_slice(&buf[..n]);
            while let Some(end) = pending.iter().position(|b| *b == b'\n').or_else(|| {
                // A line with no end in sight is handed on in pieces rather than held without bound.
                (pending.len() >= LONGEST_LINE).then_some(LONGEST_LINE - 1)
            }) {
                let line: Vec<u8> = pending.drain(..=end).collect();
                on_line(String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']));
            }
        }
        let mut chunk = &buf[..n];
        if head.len() < keep_head {
            let take = (keep_head - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
        }
        tail.extend(chunk);
        if tail.len() > keep_tail {
            let excess = tail.len() - keep_tail;
            tail.drain(..excess);
            dropped += excess as u64;
        }
    }
    if let (Some(on_line), false) = (on_line, pending.is_empty()) {
        on_line(String::from_utf8_lossy(&pending).trim_end_matches('\r'));
    }
    if dropped > 0 {
        let note = format!(
            "\n[golive: {dropped} bytes dropped here (output_cap is {cap} bytes); the head and tail are kept]\n"
        );
        head.extend_from_slice(note.as_bytes());
    }
    head.extend(tail);
    Ok(head)
}

/// Feeding stdin to a command that stopped reading: the pipe is broken, and that is the command's choice.
pub fn unread_input(e: std::io::Error) -> std::io::Result<()> {
    if e.kind() == std::io::ErrorKind::BrokenPipe { Ok(()) } else { Err(e) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_head_and_tail_and_says_what_was_dropped() {
        let data: Vec<u8> = (0..100u8).collect();
        let kept = read_capped(&data[..], 10).await.unwrap();
        let text = String::from_utf8_lossy(&kept);
        assert!(kept.starts_with(&[0, 1, 2, 3, 4]), "{text}");
        assert!(kept.ends_with(&[95, 96, 97, 98, 99]), "{text}");
        assert!(text.contains("90 bytes dropped here"), "{text}");
        assert_eq!(read_capped(&data[..], 1000).await.unwrap(), data);
    }

    #[tokio::test]
    async fn lines_are_handed_on_as_they_arrive_even_past_the_cap() {
        let seen = std::sync::Mutex::new(Vec::new());
        let on_line = |line: &str| seen.lock().unwrap().push(line.to_string());
        let text = b"first\r\nsecond\n\nlast without end";
        let kept = read_capped_lines(&text[..], 8, Some(&on_line)).await.unwrap();
        assert!(String::from_utf8_lossy(&kept).contains("bytes dropped here"));
        assert_eq!(*seen.lock().unwrap(), ["first", "second", "", "last without end"]);
    }
}
