//! kubelab's kubectl: the command-line client, compatible with kubectl's
//! commands, flags, output and messages (as the book's chapter 3 uses them).
//!
//! - [`cli`]: the command line (clap derive).
//! - [`config`]: kubeconfig files, merging, server and namespace selection.
//! - [`cmd`]: one module per command or command family.
//! - [`printers`]: tables, YAML/JSON, names, JSONPath, custom columns.
//! - [`age`]: kubectl's AGE formatting.
//! - [`manifest`]: `-f` files, directories and stdin.
//! - [`resource`]: resource arguments and label/annotation changes.
//! - [`merge`]: the three-way merge behind `apply` and the two-way one behind `edit`.
//! - [`error`]: errors, printed as kubectl prints them.
//! - [`terminal`]: raw mode and window size for `exec -it`.
//! - [`typed`]: the server's JSON as `k8s-openapi` types, for per-kind printers and describers.

pub mod age;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod error;
pub mod manifest;
pub mod merge;
pub mod printers;
pub mod resource;
pub mod terminal;
pub mod typed;

pub use cli::Cli;
pub use error::{Error, Result};

/// Runs one parsed command line; errors not yet reported are returned for `main` to print.
pub async fn run(cli: Cli) -> Result<()> {
    cmd::dispatch(cli).await
}
