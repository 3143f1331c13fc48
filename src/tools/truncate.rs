//! What the model sees of a long tool output: the first and the last lines,
//! with one line between them saying what was cut, so that a command that
//! prints megabytes cannot flood the context.

/// The most bytes of an output the model is shown.
pub const MAX_BYTES: usize = 10 * 1024;
/// The most lines of an output the model is shown.
pub const MAX_LINES: usize = 256;

/// [`truncate_with`] at [`MAX_BYTES`] and [`MAX_LINES`].
pub fn for_model(output: &str) -> String {
    truncate_with(output, MAX_BYTES, MAX_LINES)
}

/// `output` unchanged when it is within both limits; otherwise its first and
/// last lines (about half the budget each) with one line between them saying
/// what was cut, e.g. `[… 1234 lines (56789 bytes) cut …]`. A line is cut
/// whole, except a first (last) line that alone is over its half of the
/// bytes: its beginning (end) is kept, never splitting a UTF-8 character.
/// The marker counts the bytes removed and the lines removed entirely.
///
/// The result is within both limits (for limits of at least 64 bytes and 3
/// lines; smaller ones are met as nearly as the marker allows).
pub fn truncate_with(output: &str, max_bytes: usize, max_lines: usize) -> String {
    let total_lines = count_lines(output);
    if output.len() <= max_bytes && total_lines <= max_lines {
        return output.to_string();
    }
    // The marker can be no longer than this one, whose counts are the
    // largest possible; plus a newline that may have to end a cut line.
    let reserve = marker(total_lines, output.len()).len() + 1;
    let budget = max_bytes.saturating_sub(reserve);
    let head_bytes = budget / 2;
    let tail_bytes = budget - head_bytes;
    let line_budget = max_lines.saturating_sub(1);
    let head_lines = line_budget / 2;
    let tail_lines = line_budget - head_lines;

    // Head: whole lines from the start.
    let mut head_end = 0;
    let mut taken = 0;
    for line in output.split_inclusive('\n') {
        if taken == head_lines || head_end + line.len() > head_bytes {
            break;
        }
        head_end += line.len();
        taken += 1;
    }
    if taken == 0 && head_lines > 0 {
        // A first line over the budget: keep its beginning.
        head_end = floor_char_boundary(output, head_bytes);
    }

    // Tail: whole lines from the end, not reaching into the head.
    let mut tail_start = output.len();
    let mut taken = 0;
    for line in output[head_end..].split_inclusive('\n').rev() {
        if taken == tail_lines || output.len() - tail_start + line.len() > tail_bytes {
            break;
        }
        tail_start -= line.len();
        taken += 1;
    }
    if taken == 0 && tail_lines > 0 {
        // A last line over the budget: keep its end.
        let want = output.len().saturating_sub(tail_bytes).max(head_end);
        tail_start = ceil_char_boundary(output, want);
    }

    let head = &output[..head_end];
    let cut = &output[head_end..tail_start];
    let tail = &output[tail_start..];
    let mut result = String::with_capacity(head.len() + reserve + tail.len());
    result.push_str(head);
    if !head.is_empty() && !head.ends_with('\n') {
        result.push('\n');
    }
    result.push_str(&marker(
        whole_lines_in(output, head_end, tail_start),
        cut.len(),
    ));
    result.push_str(tail);
    result
}

/// The line that stands for what was cut, with its newline.
fn marker(lines: usize, bytes: usize) -> String {
    if lines == 0 {
        format!("[… {bytes} bytes cut …]\n")
    } else if lines == 1 {
        format!("[… 1 line ({bytes} bytes) cut …]\n")
    } else {
        format!("[… {lines} lines ({bytes} bytes) cut …]\n")
    }
}

/// Lines as a reader counts them: a last line without a newline counts.
fn count_lines(s: &str) -> usize {
    s.split_inclusive('\n').count()
}

/// How many lines of `s` lie entirely within `s[start..end]`.
fn whole_lines_in(s: &str, start: usize, end: usize) -> usize {
    let starts_line = start == 0 || s.as_bytes()[start - 1] == b'\n';
    let cut = &s[start..end];
    let newlines = cut.bytes().filter(|&b| b == b'\n').count();
    // Each newline in the cut ends a line; the first of them ends a whole
    // line only if the cut began at a line start. A last line without a
    // newline is whole if the cut reaches the end of `s`.
    let mut lines = newlines;
    if newlines > 0 && !starts_line {
        lines -= 1;
    }
    if end == s.len() && !cut.is_empty() && !cut.ends_with('\n') && (newlines > 0 || starts_line) {
        lines += 1;
    }
    lines
}

/// The largest char boundary of `s` at or below `i`.
fn floor_char_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest char boundary of `s` at or above `i`.
fn ceil_char_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(n: usize) -> String {
        (1..=n).map(|i| format!("line {i}\n")).collect()
    }

    #[test]
    fn within_limits_is_unchanged() {
        for s in ["", "x", "a\nb\n", "a\nb"] {
            assert_eq!(for_model(s), s);
        }
        let s = numbered(MAX_LINES);
        assert!(s.len() < MAX_BYTES);
        assert_eq!(for_model(&s), s);
        let s = "y".repeat(MAX_BYTES);
        assert_eq!(for_model(&s), s);
    }

    #[test]
    fn line_limit_keeps_head_and_tail() {
        // 10 lines, 5 allowed: 2 head lines, the marker, 2 tail lines.
        let s = numbered(10);
        let t = truncate_with(&s, 10_000, 5);
        assert_eq!(
            t,
            "line 1\nline 2\n[… 6 lines (42 bytes) cut …]\nline 9\nline 10\n"
        );
        let cut: usize = (3..=8).map(|i| format!("line {i}\n").len()).sum();
        assert_eq!(cut, 42);
    }

    #[test]
    fn default_limits_on_many_lines() {
        let s = numbered(10_000);
        let t = for_model(&s);
        assert!(t.len() <= MAX_BYTES);
        assert_eq!(count_lines(&t), MAX_LINES);
        assert!(t.starts_with("line 1\nline 2\n"));
        assert!(t.ends_with("line 9999\nline 10000\n"));
        let lines: Vec<&str> = t.lines().collect();
        let m = lines
            .iter()
            .position(|l| l.starts_with("[…"))
            .expect("the marker line");
        assert_eq!(m, (MAX_LINES - 1) / 2);
        // The counts in the marker are exact.
        let kept_head = lines[m - 1].strip_prefix("line ").expect("a numbered line");
        let kept_tail = lines[m + 1].strip_prefix("line ").expect("a numbered line");
        let (h, tl): (usize, usize) = (
            kept_head.parse().expect("a number"),
            kept_tail.parse().expect("a number"),
        );
        let cut_bytes: usize = (h + 1..tl).map(|i| format!("line {i}\n").len()).sum();
        assert_eq!(
            lines[m],
            format!("[… {} lines ({cut_bytes} bytes) cut …]", tl - h - 1)
        );
        assert_eq!(t.len() + cut_bytes - lines[m].len() - 1, s.len());
    }

    #[test]
    fn byte_limit_with_long_lines() {
        // 40 lines of 1000 bytes: the bytes limit binds before the lines one.
        let s: String = (0..40)
            .map(|i| format!("{i:03}{}\n", "x".repeat(996)))
            .collect();
        let t = truncate_with(&s, 10_240, 256);
        assert!(t.len() <= 10_240, "{}", t.len());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5 + 1 + 5);
        assert!(lines[0].starts_with("000x"));
        assert!(lines[4].starts_with("004x"));
        assert_eq!(lines[5], "[… 30 lines (30000 bytes) cut …]");
        assert!(lines[6].starts_with("035x"));
        assert!(lines[10].starts_with("039x"));
    }

    #[test]
    fn one_huge_line_keeps_its_ends_without_splitting_chars() {
        // 3-byte characters, so cuts at arbitrary bytes would split them.
        let s = "€".repeat(10_000);
        let t = truncate_with(&s, 1000, 10);
        assert!(t.len() <= 1000, "{}", t.len());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].chars().all(|c| c == '€') && !lines[0].is_empty());
        assert!(lines[2].chars().all(|c| c == '€') && !lines[2].is_empty());
        let cut = s.len() - lines[0].len() - lines[2].len();
        assert_eq!(lines[1], format!("[… {cut} bytes cut …]"));
    }

    #[test]
    fn huge_last_line_after_short_ones() {
        let s = format!("a\nb\n{}", "z".repeat(5000));
        let t = truncate_with(&s, 1000, 256);
        assert!(t.len() <= 1000);
        assert!(t.starts_with("a\nb\n"));
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[3].chars().all(|c| c == 'z'));
        // The cut is the start of the last line: no line removed entirely.
        assert_eq!(
            lines[2],
            format!("[… {} bytes cut …]", 5000 - lines[3].len())
        );
    }

    #[test]
    fn whole_line_counting() {
        let s = "ab\ncd\nef";
        assert_eq!(whole_lines_in(s, 0, 3), 1);
        assert_eq!(whole_lines_in(s, 1, 3), 0);
        assert_eq!(whole_lines_in(s, 1, 6), 1);
        assert_eq!(whole_lines_in(s, 3, 8), 2);
        assert_eq!(whole_lines_in(s, 7, 8), 0);
        assert_eq!(whole_lines_in(s, 6, 8), 1);
    }
}
