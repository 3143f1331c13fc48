//! `kchat mkmodel` through the real binary: determinism (same seed, same
//! bytes, whatever the thread count) and clean refusals (bad flags, bad
//! paths, a full disk, a failure part way that must not leave files behind).

mod common;

use std::path::Path;

use common::{fails, kchat};

fn ok(args: &[&str]) -> String {
    let out = kchat(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "kchat {args:?} failed:\n{text}");
    text
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn same_seed_gives_the_same_bytes_whatever_the_threads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.gguf");
    let b = dir.path().join("b.gguf");
    let c = dir.path().join("c.gguf");
    let summary = ok(&[
        "mkmodel",
        "--preset",
        "tiny",
        "--seed",
        "5",
        "--threads",
        "1",
        "-o",
        s(&a),
    ]);
    assert!(
        summary.contains("layers 4, width 64"),
        "the plan is printed first:\n{summary}"
    );
    ok(&[
        "mkmodel",
        "--preset",
        "tiny",
        "--seed",
        "5",
        "--threads",
        "2",
        "-o",
        s(&b),
    ]);
    ok(&["mkmodel", "--preset", "tiny", "--seed", "6", "-o", s(&c)]);
    let (a, b, c) = (
        std::fs::read(a).expect("a"),
        std::fs::read(b).expect("b"),
        std::fs::read(c).expect("c"),
    );
    assert!(
        a.len() > 20_000_000 && a.len() < 60_000_000,
        "tiny is {} bytes",
        a.len()
    );
    assert!(
        a == b,
        "same seed, different thread counts: the bytes must match"
    );
    assert_eq!(a.len(), c.len());
    assert!(a != c, "a different seed must give different weights");
    // The header (metadata and tensor infos) is the same; only the data differs.
    // The tensor infos end with the last tensor's name, then dims, type, offset.
    let infos_end = a
        .windows(13)
        .rposition(|w| w == b"output.weight")
        .expect("tensor info")
        + 13;
    let first_diff = a
        .iter()
        .zip(&c)
        .position(|(x, y)| x != y)
        .expect("they differ");
    assert!(
        first_diff > infos_end,
        "the seed changed the header at byte {first_diff}"
    );
}

#[test]
fn help_explains_split_names() {
    let help = ok(&["mkmodel", "--help"]);
    assert!(
        help.contains("PREFIX-00001-of-0000N.gguf") && help.contains("--threads"),
        "{help}"
    );
}

#[test]
fn bad_split_and_threads_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("x.gguf");
    let e = fails(&["mkmodel", "--preset", "tiny", "--split", "0", "-o", s(&out)]);
    assert!(e.contains("--split 0"), "{e}");
    let e = fails(&[
        "mkmodel",
        "--preset",
        "tiny",
        "--split",
        "1000",
        "-o",
        s(&out),
    ]);
    assert!(
        e.contains("--split 1000") && e.contains("number of tensors, 79"),
        "{e}"
    );
    let e = fails(&[
        "mkmodel",
        "--preset",
        "tiny",
        "--threads",
        "0",
        "-o",
        s(&out),
    ]);
    assert!(e.contains("--threads 0"), "{e}");
    let e = fails(&["mkmodel", "--preset", "huge", "-o", s(&out)]);
    assert!(
        e.contains("tiny") && e.contains("small") && e.contains("20b"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("list").count(),
        0,
        "nothing was written"
    );
}

#[test]
fn bad_output_paths_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = fails(&["mkmodel", "--preset", "tiny", "-o", s(dir.path())]);
    assert!(
        e.contains(s(dir.path())) && e.contains("is a directory"),
        "{e}"
    );

    // A directory in the way of the second shard.
    std::fs::create_dir(dir.path().join("m-00002-of-00002.gguf")).expect("mkdir");
    let e = fails(&[
        "mkmodel",
        "--preset",
        "tiny",
        "--split",
        "2",
        "-o",
        s(&dir.path().join("m.gguf")),
    ]);
    assert!(
        e.contains("m-00002-of-00002.gguf: it is a directory"),
        "{e}"
    );
    assert!(!dir.path().join("m-00001-of-00002.gguf").exists());

    let missing = dir.path().join("no/such/dir/x.gguf");
    let e = fails(&["mkmodel", "--preset", "tiny", "-o", s(&missing)]);
    assert!(e.contains(s(&missing)) && e.contains("No such file"), "{e}");
}

#[test]
fn a_full_disk_is_reported() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        eprintln!("no /dev/full here; skipped");
        return;
    }
    let e = fails(&["mkmodel", "--preset", "tiny", "-o", "/dev/full"]);
    assert!(
        e.contains("/dev/full") && e.contains("No space left on device"),
        "{e}"
    );
    assert!(
        !e.contains("removed"),
        "a device is not a partial output: {e}"
    );
    assert!(full.exists());
}

#[cfg(unix)]
#[test]
fn a_failure_part_way_removes_the_files_already_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The second shard's name is a dangling link: shard 1 is written in full,
    // then creating shard 2 fails.
    let second = dir.path().join("m-00002-of-00002.gguf");
    std::os::unix::fs::symlink(dir.path().join("gone/target.gguf"), &second).expect("symlink");
    let e = fails(&[
        "mkmodel",
        "--preset",
        "tiny",
        "--split",
        "2",
        "-o",
        s(&dir.path().join("m.gguf")),
    ]);
    let first = dir.path().join("m-00001-of-00002.gguf");
    assert!(
        e.contains("m-00002-of-00002.gguf") && e.contains("No such file"),
        "{e}"
    );
    assert!(
        e.contains(&format!("removed the partial output {}", first.display())),
        "{e}"
    );
    assert!(!first.exists(), "shard 1 must be removed");
    assert!(
        second.symlink_metadata().is_ok(),
        "the link is not ours to remove"
    );
}
