//! Unified diffs, for showing the user what a `write` or `edit` would change
//! before approving it.
//!
//! Lines are compared with Myers' O(ND) algorithm in its linear-space form
//! (the middle snake, divide and conquer), after the common prefix and
//! suffix are trimmed. When two texts differ by more than [`MAX_EDIT`]
//! lines the part still unresolved is shown as one replacement, so that a
//! rewrite of a large file costs little.

use std::collections::HashMap;

/// The edit distance (lines deleted plus inserted) past which the diff
/// gives up on finding the fewest changes and replaces whole blocks.
pub const MAX_EDIT: usize = 4000;

/// A unified diff of `old` and `new` by lines, with headers `--- a/NAME` and
/// `+++ b/NAME`, hunks `@@ -l,n +l,n @@` with `context` lines around the
/// changes, and `\ No newline at end of file` after a last line without
/// one. Empty when the texts are equal.
pub fn unified(old: &str, new: &str, name: &str, context: usize) -> String {
    if old == new {
        return String::new();
    }
    let a_lines: Vec<&str> = old.split_inclusive('\n').collect();
    let b_lines: Vec<&str> = new.split_inclusive('\n').collect();
    // Lines as numbers: equal lines (terminator included) get equal ones.
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let a = intern(&a_lines, &mut ids);
    let b = intern(&b_lines, &mut ids);

    let mut differ = Differ {
        a: &a,
        b: &b,
        deleted: vec![false; a.len()],
        inserted: vec![false; b.len()],
    };
    differ.compare(0, a.len(), 0, b.len());
    let ops = script(&differ.deleted, &differ.inserted);

    let mut out = format!("--- a/{name}\n+++ b/{name}\n");
    for (start, end) in hunks(&ops, context) {
        render_hunk(&mut out, &ops[start..end], &a_lines, &b_lines);
    }
    out
}

/// Numbers for `lines`, equal for equal lines.
fn intern<'a>(lines: &[&'a str], ids: &mut HashMap<&'a str, u32>) -> Vec<u32> {
    lines
        .iter()
        .map(|&line| {
            let next = ids.len() as u32;
            *ids.entry(line).or_insert(next)
        })
        .collect()
}

/// The Myers comparison, marking the lines that are not common.
struct Differ<'a> {
    a: &'a [u32],
    b: &'a [u32],
    /// `deleted[i]`: line `i` of `a` is not in the common subsequence.
    deleted: Vec<bool>,
    /// `inserted[j]`: line `j` of `b` is not in it.
    inserted: Vec<bool>,
}

impl Differ<'_> {
    /// Marks the changes between `a[alo..ahi]` and `b[blo..bhi]`.
    fn compare(&mut self, mut alo: usize, mut ahi: usize, mut blo: usize, mut bhi: usize) {
        while alo < ahi && blo < bhi && self.a[alo] == self.b[blo] {
            alo += 1;
            blo += 1;
        }
        while alo < ahi && blo < bhi && self.a[ahi - 1] == self.b[bhi - 1] {
            ahi -= 1;
            bhi -= 1;
        }
        if alo == ahi || blo == bhi {
            self.replace(alo, ahi, blo, bhi);
            return;
        }
        match bisect(&self.a[alo..ahi], &self.b[blo..bhi]) {
            Some((x, y)) if (x, y) != (0, 0) && (x, y) != (ahi - alo, bhi - blo) => {
                self.compare(alo, alo + x, blo, blo + y);
                self.compare(alo + x, ahi, blo + y, bhi);
            }
            _ => self.replace(alo, ahi, blo, bhi),
        }
    }

    /// Marks all of `a[alo..ahi]` deleted and `b[blo..bhi]` inserted.
    fn replace(&mut self, alo: usize, ahi: usize, blo: usize, bhi: usize) {
        self.deleted[alo..ahi].fill(true);
        self.inserted[blo..bhi].fill(true);
    }
}

/// Finds a point `(x, y)` on an optimal path through the edit graph of `a`
/// and `b` (Myers' middle snake, searched from both ends at once), at which
/// the problem splits in two. `None` when the edit distance exceeds
/// [`MAX_EDIT`].
fn bisect(a: &[u32], b: &[u32]) -> Option<(usize, usize)> {
    let n = a.len() as isize;
    let m = b.len() as isize;
    let max_d = (n + m + 1) / 2;
    // Each round of `d` adds one edit from each end.
    let limit = max_d.min((MAX_EDIT / 2) as isize + 1);
    let offset = max_d;
    let len = (2 * max_d + 2) as usize;
    let mut v1 = vec![-1isize; len];
    let mut v2 = vec![-1isize; len];
    v1[(offset + 1) as usize] = 0;
    v2[(offset + 1) as usize] = 0;
    let delta = n - m;
    // With an odd delta the paths meet while extending the forward one.
    let front = delta % 2 != 0;
    let (mut k1start, mut k1end, mut k2start, mut k2end) = (0isize, 0isize, 0isize, 0isize);
    let at = |v: &[isize], k: isize| -> Option<isize> {
        usize::try_from(k)
            .ok()
            .and_then(|i| v.get(i).copied())
            .filter(|&x| x != -1)
    };
    for d in 0..limit {
        let mut k1 = -d + k1start;
        while k1 <= d - k1end {
            let k1_off = (offset + k1) as usize;
            let mut x1 = if k1 == -d || (k1 != d && v1[k1_off - 1] < v1[k1_off + 1]) {
                v1[k1_off + 1]
            } else {
                v1[k1_off - 1] + 1
            };
            let mut y1 = x1 - k1;
            while x1 < n && y1 < m && a[x1 as usize] == b[y1 as usize] {
                x1 += 1;
                y1 += 1;
            }
            v1[k1_off] = x1;
            if x1 > n {
                k1end += 2;
            } else if y1 > m {
                k1start += 2;
            } else if front {
                if let Some(x2) = at(&v2, offset + delta - k1) {
                    if x1 >= n - x2 {
                        return Some((x1 as usize, y1 as usize));
                    }
                }
            }
            k1 += 2;
        }
        let mut k2 = -d + k2start;
        while k2 <= d - k2end {
            let k2_off = (offset + k2) as usize;
            let mut x2 = if k2 == -d || (k2 != d && v2[k2_off - 1] < v2[k2_off + 1]) {
                v2[k2_off + 1]
            } else {
                v2[k2_off - 1] + 1
            };
            let mut y2 = x2 - k2;
            while x2 < n && y2 < m && a[(n - x2 - 1) as usize] == b[(m - y2 - 1) as usize] {
                x2 += 1;
                y2 += 1;
            }
            v2[k2_off] = x2;
            if x2 > n {
                k2end += 2;
            } else if y2 > m {
                k2start += 2;
            } else if !front {
                let k1_off = offset + delta - k2;
                if let Some(x1) = at(&v1, k1_off) {
                    let y1 = offset + x1 - k1_off;
                    if x1 >= n - x2 {
                        return Some((x1 as usize, y1 as usize));
                    }
                }
            }
            k2 += 2;
        }
    }
    None
}

/// One line of the script: kept, deleted from `a`, or inserted from `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `a[i]` and `b[j]`, equal.
    Keep(usize, usize),
    /// `a[i]`; `b` is at line `j`.
    Delete(usize, usize),
    /// `b[j]`; `a` is at line `i`.
    Insert(usize, usize),
}

impl Op {
    /// Where the op is in `a` and `b` (0-based).
    fn position(self) -> (usize, usize) {
        match self {
            Op::Keep(i, j) | Op::Delete(i, j) | Op::Insert(i, j) => (i, j),
        }
    }
}

/// The edit script from the marks: in each change, deletions first.
fn script(deleted: &[bool], inserted: &[bool]) -> Vec<Op> {
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::with_capacity(deleted.len().max(inserted.len()));
    while i < deleted.len() || j < inserted.len() {
        if i < deleted.len() && deleted[i] {
            ops.push(Op::Delete(i, j));
            i += 1;
        } else if j < inserted.len() && inserted[j] {
            ops.push(Op::Insert(i, j));
            j += 1;
        } else {
            ops.push(Op::Keep(i, j));
            i += 1;
            j += 1;
        }
    }
    ops
}

/// The hunks as ranges of `ops`: each change with up to `context` kept lines
/// around it; changes whose contexts touch or overlap share a hunk.
fn hunks(ops: &[Op], context: usize) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut last_change: Option<usize> = None;
    for (k, op) in ops.iter().enumerate() {
        if matches!(op, Op::Keep(..)) {
            continue;
        }
        match (last_change, out.last_mut()) {
            (Some(prev), Some(hunk)) if k - prev - 1 <= 2 * context => {
                hunk.1 = (k + context + 1).min(ops.len());
            }
            _ => out.push((k.saturating_sub(context), (k + context + 1).min(ops.len()))),
        }
        last_change = Some(k);
    }
    out
}

/// Appends one hunk, its header and its lines.
fn render_hunk(out: &mut String, ops: &[Op], a: &[&str], b: &[&str]) {
    let Some(first) = ops.first() else {
        return;
    };
    let (a_start, b_start) = first.position();
    let a_count = ops
        .iter()
        .filter(|op| !matches!(op, Op::Insert(..)))
        .count();
    let b_count = ops
        .iter()
        .filter(|op| !matches!(op, Op::Delete(..)))
        .count();
    out.push_str(&format!(
        "@@ -{} +{} @@\n",
        range(a_start, a_count),
        range(b_start, b_count)
    ));
    for op in ops {
        let (prefix, line) = match *op {
            Op::Keep(i, _) => (' ', a[i]),
            Op::Delete(i, _) => ('-', a[i]),
            Op::Insert(_, j) => ('+', b[j]),
        };
        out.push(prefix);
        match line.strip_suffix('\n') {
            Some(text) => {
                out.push_str(text);
                out.push('\n');
            }
            None => {
                out.push_str(line);
                out.push_str("\n\\ No newline at end of file\n");
            }
        }
    }
}

/// A hunk range as `diff -u` writes it: `l,n`, `l` when n is 1, and for an
/// empty range the line before it.
fn range(start: usize, count: usize) -> String {
    match count {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        _ => format!("{},{count}", start + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::process::Command;

    fn lines(range: std::ops::RangeInclusive<usize>) -> String {
        range.map(|i| format!("l{i}\n")).collect()
    }

    #[test]
    fn equal_is_empty() {
        assert_eq!(unified("", "", "f", 3), "");
        assert_eq!(unified("a\nb\n", "a\nb\n", "f", 3), "");
    }

    #[test]
    fn one_line_changed_in_the_middle() {
        let old = lines(1..=10);
        let new = old.replace("l5\n", "five\n");
        assert_eq!(
            unified(&old, &new, "src/x.txt", 3),
            "--- a/src/x.txt\n+++ b/src/x.txt\n@@ -2,7 +2,7 @@\n l2\n l3\n l4\n-l5\n+five\n l6\n l7\n l8\n"
        );
        assert_eq!(
            unified(&old, &new, "x", 0),
            "--- a/x\n+++ b/x\n@@ -5 +5 @@\n-l5\n+five\n"
        );
    }

    #[test]
    fn insertions_at_start_and_end() {
        let old = "a\nb\n";
        assert_eq!(
            unified(old, "new\na\nb\n", "f", 3),
            "--- a/f\n+++ b/f\n@@ -1,2 +1,3 @@\n+new\n a\n b\n"
        );
        assert_eq!(
            unified(old, "a\nb\nnew\n", "f", 3),
            "--- a/f\n+++ b/f\n@@ -1,2 +1,3 @@\n a\n b\n+new\n"
        );
        assert_eq!(
            unified(old, "a\nb\nnew\n", "f", 0),
            "--- a/f\n+++ b/f\n@@ -2,0 +3 @@\n+new\n"
        );
    }

    #[test]
    fn new_and_emptied_files() {
        assert_eq!(
            unified("", "a\nb\n", "f", 3),
            "--- a/f\n+++ b/f\n@@ -0,0 +1,2 @@\n+a\n+b\n"
        );
        assert_eq!(
            unified("a\n", "", "f", 3),
            "--- a/f\n+++ b/f\n@@ -1 +0,0 @@\n-a\n"
        );
    }

    #[test]
    fn missing_final_newline() {
        assert_eq!(
            unified("a\nb", "a\nb\n", "f", 3),
            "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n"
        );
        assert_eq!(
            unified("a\nb\nc", "a\nB\nc", "f", 3),
            "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n\\ No newline at end of file\n"
        );
    }

    #[test]
    fn distant_changes_make_two_hunks_close_ones_one() {
        let old = lines(1..=20);
        let new = old
            .replace("l3\n", "three\n")
            .replace("l17\n", "seventeen\n");
        let d = unified(&old, &new, "f", 3);
        assert_eq!(d.matches("\n@@ ").count(), 2, "{d}");
        assert!(d.contains("@@ -1,6 +1,6 @@\n l1\n l2\n-l3\n+three\n l4\n l5\n l6\n"));
        assert!(d.contains("@@ -14,7 +14,7 @@\n"));
        // Six kept lines between two changes: their contexts touch.
        let new = old.replace("l3\n", "three\n").replace("l10\n", "ten\n");
        let d = unified(&old, &new, "f", 3);
        assert_eq!(d.matches("\n@@ ").count(), 1, "{d}");
        assert!(d.contains("@@ -1,13 +1,13 @@\n"));
        // Seven: two hunks.
        let new = old.replace("l3\n", "three\n").replace("l11\n", "eleven\n");
        assert_eq!(unified(&old, &new, "f", 3).matches("\n@@ ").count(), 2);
    }

    #[test]
    fn the_fewest_changes_are_found() {
        let old = "a\nb\nc\na\nb\nb\na\n";
        let new = "c\nb\na\nb\na\nc\n";
        let d = unified(old, new, "f", 0);
        let changes = d
            .lines()
            .filter(|l| l.starts_with(['-', '+']) && !l.starts_with("---") && !l.starts_with("+++"))
            .count();
        // The classic example of Myers' paper: edit distance 5.
        assert_eq!(changes, 5, "{d}");
    }

    /// Applies the diff's hunks to `old` and checks it gives `new`.
    fn check_applies(old: &str, new: &str, diff: &str) {
        let old_lines: Vec<&str> = old.lines().collect();
        let mut out: Vec<&str> = Vec::new();
        let mut pos = 0;
        let mut body = diff.lines().skip(2).peekable();
        while let Some(header) = body.next() {
            let minus = header
                .split(' ')
                .nth(1)
                .expect("a hunk range")
                .trim_start_matches('-');
            let mut parts = minus.split(',');
            let start: usize = parts
                .next()
                .expect("a start line")
                .parse()
                .expect("a number");
            let count: usize = parts.next().map_or(1, |c| c.parse().expect("a number"));
            let first = if count == 0 { start } else { start - 1 };
            out.extend(&old_lines[pos..first]);
            pos = first;
            while let Some(line) = body.peek().filter(|l| !l.starts_with("@@")) {
                match line.as_bytes()[0] {
                    b' ' => {
                        assert_eq!(old_lines[pos], &line[1..]);
                        out.push(&line[1..]);
                        pos += 1;
                    }
                    b'-' => {
                        assert_eq!(old_lines[pos], &line[1..]);
                        pos += 1;
                    }
                    b'+' => out.push(&line[1..]),
                    _ => {}
                }
                body.next();
            }
        }
        out.extend(&old_lines[pos..]);
        assert_eq!(out, new.lines().collect::<Vec<_>>());
    }

    #[test]
    fn large_texts_apply_and_huge_rewrites_are_coarse() {
        // A pseudo-random edit of 3000 lines.
        let old: Vec<String> = (0..3000)
            .map(|i| format!("line {}", (i * 7919) % 1009))
            .collect();
        let mut new = old.clone();
        for k in (0..3000).step_by(37) {
            new[k] = format!("changed {k}");
        }
        new.insert(100, "inserted".into());
        new.remove(2000);
        let (old, new) = (old.join("\n") + "\n", new.join("\n") + "\n");
        let d = unified(&old, &new, "f", 3);
        check_applies(&old, &new, &d);
        let t = std::time::Instant::now();
        // Every line different: far past MAX_EDIT, one replacement hunk.
        let a: String = (0..5000).map(|i| format!("a{i}\n")).collect();
        let b: String = (0..5000).map(|i| format!("b{i}\n")).collect();
        let d = unified(&a, &b, "f", 3);
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
        assert!(d.starts_with("--- a/f\n+++ b/f\n@@ -1,5000 +1,5000 @@\n-a0\n"));
        check_applies(&a, &b, &d);
    }

    #[test]
    fn same_hunks_as_gnu_diff() {
        let Ok(probe) = Command::new("diff").arg("--version").output() else {
            eprintln!("no diff installed; skipped");
            return;
        };
        assert!(probe.status.success());
        let dir = tempfile::tempdir().expect("temp dir");
        let cases = [
            (
                lines(1..=30),
                lines(1..=30)
                    .replace("l7\n", "seven\n")
                    .replace("l20\n", ""),
            ),
            (
                lines(1..=10),
                format!("top\n{}bottom", lines(1..=10).replace("l5\n", "l5\nl5b\n")),
            ),
            ("x\ny\nz".to_string(), "x\nY\nz".to_string()),
            (
                "fn a() {}\n\nfn b() {}\n".to_string(),
                "fn a() {}\n\nfn c() {}\n\nfn b() {}\n".to_string(),
            ),
        ];
        for (old, new) in cases {
            let (pa, pb) = (dir.path().join("old"), dir.path().join("new"));
            fs::write(&pa, &old).expect("write a test file");
            fs::write(&pb, &new).expect("write a test file");
            let gnu = Command::new("diff")
                .arg("-u")
                .arg(&pa)
                .arg(&pb)
                .output()
                .expect("run diff");
            let gnu = String::from_utf8(gnu.stdout).expect("UTF-8 output");
            let gnu_body: Vec<&str> = gnu.lines().skip(2).collect();
            let ours = unified(&old, &new, "f", 3);
            let our_body: Vec<&str> = ours.lines().skip(2).collect();
            assert_eq!(our_body, gnu_body, "old {old:?} new {new:?}");
        }
    }
}
