//! The workspace: the directory the tools act in, and the resolution of the
//! paths the model gives into the paths that will really be touched.
//!
//! A path is resolved the way the kernel would walk it: component by
//! component, following every symbolic link of an existing component (also
//! a dangling one, whose target is then followed as far as it exists), and
//! `..` going to the parent of what was reached so far. What does not exist
//! yet is appended as written. The result has no symbolic link left in it,
//! so whether it lies inside the workspace cannot be fooled by `..` or links,
//! and the tools act on exactly that path.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::error::{Result, ToolError};

/// How many symbolic links one resolution may follow (Linux's own limit).
const MAX_SYMLINKS: usize = 40;

/// The directory the tools act in (kchat's working directory).
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Canonical: absolute, no `.`/`..`, no symbolic links.
    root: PathBuf,
}

/// A path the model gave, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPath {
    /// Absolute and normalized, every symbolic link resolved.
    pub path: PathBuf,
    /// Whether it is the workspace root or under it.
    pub inside: bool,
    /// Whether it is in (or is) a `.git` directory, e.g. `.git/config` or
    /// `sub/.git/HEAD`. `.gitignore` is not.
    pub git_internal: bool,
}

impl Workspace {
    /// The workspace at `dir`, which must be an existing directory.
    pub fn new(dir: &Path) -> Result<Workspace> {
        let root = fs::canonicalize(dir).map_err(|e| ToolError::io(dir, e))?;
        let meta = fs::metadata(&root).map_err(|e| ToolError::io(&root, e))?;
        if !meta.is_dir() {
            return Err(ToolError::NotADirectory { path: root });
        }
        Ok(Workspace { root })
    }

    /// The workspace's canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves a path the model gave: a relative one against the root, an
    /// absolute one as is (no `~` expansion). Errors on an empty path, a NUL
    /// byte, or a loop of symbolic links.
    pub fn resolve(&self, path: &str) -> Result<ResolvedPath> {
        if path.is_empty() {
            return Err(ToolError::InvalidPath {
                path: path.to_string(),
                reason: "the path is empty",
            });
        }
        if path.contains('\0') {
            return Err(ToolError::InvalidPath {
                path: path.to_string(),
                reason: "the path contains a NUL byte",
            });
        }
        let given = Path::new(path);
        let joined = if given.is_absolute() {
            given.to_path_buf()
        } else {
            self.root.join(given)
        };
        let resolved = resolve_links(&joined)?;
        let inside = resolved.starts_with(&self.root);
        let git_internal = resolved
            .components()
            .any(|c| matches!(c, Component::Normal(n) if n.eq_ignore_ascii_case(".git")));
        Ok(ResolvedPath {
            path: resolved,
            inside,
            git_internal,
        })
    }
}

/// Walks absolute `path` like the kernel does, following the symbolic
/// links of existing components; components that do not exist are kept as
/// written (with `..` removing the one before).
fn resolve_links(path: &Path) -> Result<PathBuf> {
    // Components still to walk, the next one last.
    let mut pending: Vec<OsString> = Vec::new();
    push_components(&mut pending, path);
    let mut out = PathBuf::from("/");
    let mut links = 0;
    while let Some(name) = pending.pop() {
        if name == "." || name.is_empty() {
            continue;
        }
        if name == ".." {
            out.pop();
            continue;
        }
        out.push(&name);
        match fs::symlink_metadata(&out) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(ToolError::SymlinkLoop {
                        path: path.to_path_buf(),
                    });
                }
                let target = fs::read_link(&out).map_err(|e| ToolError::io(&out, e))?;
                out.pop();
                if target.is_absolute() {
                    out = PathBuf::from("/");
                }
                push_components(&mut pending, &target);
            }
            Ok(_) => {}
            // Not there (yet), or under something that is not a directory:
            // kept as written; the operation on it will say what is wrong.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) => {}
            Err(e) => return Err(ToolError::io(&out, e)),
        }
    }
    Ok(out)
}

/// Pushes `path`'s components onto `stack` so that the first is popped
/// first; the root component is left out (the caller handles absolute paths).
fn push_components(stack: &mut Vec<OsString>, path: &Path) {
    let start = stack.len();
    for c in path.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => {}
            Component::CurDir => stack.push(OsString::from(".")),
            Component::ParentDir => stack.push(OsString::from("..")),
            Component::Normal(n) => stack.push(n.to_os_string()),
        }
    }
    stack[start..].reverse();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A workspace in `<tmp>/ws` with a sibling directory `<tmp>/outside`.
    fn setup() -> (tempfile::TempDir, Workspace, PathBuf) {
        let tmp = tempfile::tempdir().expect("temp dir");
        let ws_dir = tmp.path().join("ws");
        let outside = tmp.path().join("outside");
        fs::create_dir_all(ws_dir.join("src")).expect("create directories");
        fs::create_dir_all(&outside).expect("create directories");
        fs::write(outside.join("secret"), "s").expect("write a test file");
        let ws = Workspace::new(&ws_dir).expect("the workspace");
        let outside = fs::canonicalize(outside).expect("canonicalize");
        (tmp, ws, outside)
    }

    #[test]
    fn new_refuses_missing_and_files() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let err = Workspace::new(&tmp.path().join("nope")).expect_err("must fail");
        assert!(matches!(err, ToolError::NotFound { .. }), "{err}");
        let file = tmp.path().join("f");
        fs::write(&file, "x").expect("write a test file");
        let err = Workspace::new(&file).expect_err("must fail");
        assert!(matches!(err, ToolError::NotADirectory { .. }), "{err}");
    }

    #[test]
    fn plain_relative_and_root() {
        let (_tmp, ws, _) = setup();
        let r = ws.resolve("src/main.rs").expect("resolve");
        assert_eq!(r.path, ws.root().join("src/main.rs"));
        assert!(r.inside && !r.git_internal);
        let r = ws.resolve(".").expect("resolve");
        assert_eq!(r.path, ws.root());
        assert!(r.inside);
        let r = ws.resolve("./src/./../src/x").expect("resolve");
        assert_eq!(r.path, ws.root().join("src/x"));
    }

    #[test]
    fn dotdot_escapes_are_outside() {
        let (_tmp, ws, outside) = setup();
        let r = ws.resolve("../outside/secret").expect("resolve");
        assert_eq!(r.path, outside.join("secret"));
        assert!(!r.inside);
        let r = ws.resolve("src/../../ws/src").expect("resolve");
        assert!(r.inside);
        // A sibling whose name starts with the root's is not inside.
        let r = ws.resolve("../ws2/x").expect("resolve");
        assert!(!r.inside, "{r:?}");
        let r = ws
            .resolve("../../../../../../../../etc/passwd")
            .expect("resolve");
        assert_eq!(r.path, Path::new("/etc/passwd"));
        assert!(!r.inside);
    }

    #[test]
    fn absolute_paths() {
        let (_tmp, ws, outside) = setup();
        let r = ws
            .resolve(outside.join("secret").to_str().expect("a UTF-8 path"))
            .expect("resolve");
        assert!(!r.inside);
        let abs_inside = ws.root().join("src/lib.rs");
        let r = ws
            .resolve(abs_inside.to_str().expect("a UTF-8 path"))
            .expect("resolve");
        assert!(r.inside);
        assert_eq!(r.path, abs_inside);
    }

    #[test]
    fn symlink_to_an_outside_file_is_outside() {
        let (_tmp, ws, outside) = setup();
        symlink(outside.join("secret"), ws.root().join("link")).expect("make a symlink");
        let r = ws.resolve("link").expect("resolve");
        assert_eq!(r.path, outside.join("secret"));
        assert!(!r.inside);
        // A relative link that stays inside is inside.
        symlink("src", ws.root().join("srclink")).expect("make a symlink");
        let r = ws.resolve("srclink/a.rs").expect("resolve");
        assert_eq!(r.path, ws.root().join("src/a.rs"));
        assert!(r.inside);
    }

    #[test]
    fn symlinked_dir_outside_then_file_under_it() {
        let (_tmp, ws, outside) = setup();
        symlink(&outside, ws.root().join("out")).expect("make a symlink");
        let r = ws.resolve("out/secret").expect("resolve");
        assert_eq!(r.path, outside.join("secret"));
        assert!(!r.inside);
        let r = ws.resolve("out/new/deeper.txt").expect("resolve");
        assert_eq!(r.path, outside.join("new/deeper.txt"));
        assert!(!r.inside);
        // `..` after a link goes to the parent of the link's target, as the
        // kernel would.
        let r = ws.resolve("out/../ws/src").expect("resolve");
        assert_eq!(r.path, ws.root().join("src"));
        assert!(r.inside);
        // A missing component before `..` must not hide a later link.
        let r = ws.resolve("missing/../out/secret").expect("resolve");
        assert!(!r.inside);
    }

    #[test]
    fn dangling_symlink_pointing_outside_is_outside() {
        let (_tmp, ws, outside) = setup();
        symlink(outside.join("not-yet"), ws.root().join("dangling")).expect("make a symlink");
        let r = ws.resolve("dangling").expect("resolve");
        assert_eq!(r.path, outside.join("not-yet"));
        assert!(!r.inside);
        symlink("src/later.txt", ws.root().join("dangling-in")).expect("make a symlink");
        let r = ws.resolve("dangling-in").expect("resolve");
        assert_eq!(r.path, ws.root().join("src/later.txt"));
        assert!(r.inside);
    }

    #[test]
    fn new_nested_path_inside() {
        let (_tmp, ws, _) = setup();
        let r = ws.resolve("a/b/c/new.txt").expect("resolve");
        assert_eq!(r.path, ws.root().join("a/b/c/new.txt"));
        assert!(r.inside && !r.git_internal);
    }

    #[test]
    fn symlink_loop_is_an_error() {
        let (_tmp, ws, _) = setup();
        symlink("b", ws.root().join("a")).expect("make a symlink");
        symlink("a", ws.root().join("b")).expect("make a symlink");
        let err = ws.resolve("a/x").expect_err("must fail");
        assert!(matches!(err, ToolError::SymlinkLoop { .. }), "{err}");
    }

    #[test]
    fn git_internal_detection() {
        let (_tmp, ws, _) = setup();
        fs::create_dir_all(ws.root().join(".git")).expect("create directories");
        assert!(ws.resolve(".git/config").expect("resolve").git_internal);
        assert!(ws.resolve(".git").expect("resolve").git_internal);
        assert!(ws.resolve("sub/.git/HEAD").expect("resolve").git_internal);
        assert!(!ws.resolve(".gitignore").expect("resolve").git_internal);
        assert!(!ws.resolve("src/.gitignore").expect("resolve").git_internal);
        assert!(
            !ws.resolve(".github/workflows/ci.yml")
                .expect("resolve")
                .git_internal
        );
        // Through a link to .git, too.
        symlink(".git", ws.root().join("g")).expect("make a symlink");
        assert!(ws.resolve("g/config").expect("resolve").git_internal);
    }

    #[test]
    fn empty_and_nul_are_errors() {
        let (_tmp, ws, _) = setup();
        assert!(matches!(ws.resolve(""), Err(ToolError::InvalidPath { .. })));
        let err = ws.resolve("a\0b").expect_err("must fail");
        assert!(matches!(err, ToolError::InvalidPath { .. }));
        assert!(!err.to_string().contains('\0'));
    }
}
