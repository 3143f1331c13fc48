//! The model's tools: `bash`, `read`, `write` and `edit`, each call shown to
//! the user and approved before it runs.
//!
//! The layers, bottom to top:
//! - [`workspace`]: where the tools may act; paths resolved through `..` and
//!   symlinks before any decision is made about them;
//! - the executors: [`bash`] (a process group with a timeout), [`files`]
//!   (numbered reads, atomic writes, exact-string edits, the staleness
//!   ledger), [`truncate`] (what of a long output the model sees) and
//!   [`diff`] (what the user sees before a write);
//! - [`call`]: the typed [`ToolCall`] parsed from the model's JSON, and the
//!   declarations the model is given;
//! - [`approval`]: the request/decision round trip and the policy;
//! - [`toolbox`]: one call from request to result, every failure turned into a
//!   message for the model.

pub mod approval;
pub mod args;
pub mod bash;
pub mod call;
pub mod diff;
pub mod error;
pub mod files;
pub mod ledger;
pub mod toolbox;
pub mod truncate;
pub mod workspace;

pub use approval::{ApprovalRequest, Approver, Decision, Policy};
pub use args::ToolArgs;
pub use call::{declarations, ToolCall, ToolName};
pub use error::ToolError;
pub use toolbox::{ToolOutcome, Toolbox};
pub use workspace::Workspace;
