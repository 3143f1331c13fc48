//! The tool flags of the chat (`--approval`, `--no-tools`, `--workspace`,
//! `--tool-timeout`, `--max-tool-calls`) and the [`Toolbox`] they make.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use super::approval::Policy;
use super::toolbox::{Toolbox, DEFAULT_MAX_CALLS, DEFAULT_TIMEOUT};
use super::workspace::Workspace;
use super::ToolError;

/// The tool flags.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Tools")]
pub struct ToolArgs {
    /// Which tool calls run without asking: ask (every call asks), read-only
    /// (reads inside the workspace don't ask) or auto (nothing inside the
    /// workspace asks). Paths outside the workspace always ask.
    #[arg(long, value_enum, value_name = "POLICY", default_value_t = Policy::Ask)]
    pub approval: Policy,
    /// Do not offer the model any tools.
    #[arg(long)]
    pub no_tools: bool,
    /// The directory the tools work in (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// The longest a bash call may run, in seconds (the model may ask for
    /// less; 10 s when it does not say).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TIMEOUT.as_secs_f64(), value_parser = positive_seconds, allow_negative_numbers = true)]
    pub tool_timeout: f64,
    /// Tool calls a turn may make before the model is told to answer.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CALLS)]
    pub max_tool_calls: usize,
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() && v <= 86_400.0 => Ok(v),
        _ => Err(format!(
            "`{s}` is not a number of seconds above 0 and at most 86400"
        )),
    }
}

impl ToolArgs {
    /// The toolbox these flags describe, stopped by `cancel`.
    pub fn toolbox(&self, cancel: Arc<AtomicBool>) -> Result<Toolbox, ToolError> {
        let dir = match &self.workspace {
            Some(d) => d.clone(),
            None => std::env::current_dir().map_err(|source| ToolError::Io {
                path: PathBuf::from("."),
                source,
            })?,
        };
        let mut tools = Toolbox::new(Workspace::new(&dir)?, self.approval, cancel);
        tools.enabled = !self.no_tools;
        tools.max_timeout = Duration::from_secs_f64(self.tool_timeout);
        tools.default_timeout = DEFAULT_TIMEOUT.min(tools.max_timeout);
        tools.max_calls = self.max_tool_calls;
        Ok(tools)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_must_be_positive_seconds() {
        assert_eq!(positive_seconds("2.5"), Ok(2.5));
        for bad in ["0", "-3", "nan", "inf", "1e9", "ten"] {
            let e = positive_seconds(bad).expect_err(bad);
            assert!(e.contains("above 0 and at most 86400"), "{e}");
        }
    }

    #[test]
    fn flags_make_the_toolbox() {
        let dir = tempfile::tempdir().expect("tempdir");
        let args = ToolArgs {
            approval: Policy::ReadOnly,
            no_tools: true,
            workspace: Some(dir.path().to_owned()),
            tool_timeout: 3.0,
            max_tool_calls: 5,
        };
        let tb = args.toolbox(Arc::default()).expect("toolbox");
        assert!(!tb.enabled);
        assert_eq!(tb.policy, Policy::ReadOnly);
        assert_eq!(tb.max_timeout, Duration::from_secs(3));
        assert_eq!(tb.default_timeout, Duration::from_secs(3));
        assert_eq!(tb.max_calls, 5);
        let missing = ToolArgs {
            workspace: Some(dir.path().join("nope")),
            ..args
        };
        let e = missing.toolbox(Arc::default()).err().expect("refused");
        assert!(e.to_string().contains("nope"), "{e}");
    }
}
