//! `kubectl edit`: the object as YAML (or JSON) in a temp file, the user's
//! editor (`$KUBE_EDITOR`, `$EDITOR`, else `vi`), then a merge patch of what changed.

use super::{Ctx, Found, Query};
use crate::cli::EditArgs;
use crate::error::{Error, Result};
use crate::merge;
use crate::printers;
use crate::resource;
use client::PatchType;
use serde_json::Value;
use std::io::Write;
use std::path::Path;

const HEADER: &str = "# Please edit the object below. Lines beginning with a '#' will be ignored,\n\
# and an empty file will abort the edit. If an error occurs while saving this file will be\n\
# reopened with the relevant failures.\n#\n";

/// The editor command: `$KUBE_EDITOR`, then `$EDITOR`, then `vi`.
pub fn editor(kube_editor: Option<&str>, editor: Option<&str>) -> String {
    kube_editor.or(editor).map(str::trim).filter(|e| !e.is_empty()).unwrap_or("vi").to_string()
}

/// Runs the editor on `path`. An editor with arguments (`sed -i s/a/b/`) runs through the shell.
fn launch(editor: &str, path: &Path) -> Result<()> {
    let status = if editor.contains(char::is_whitespace) {
        let quoted = format!("'{}'", path.display().to_string().replace('\'', "'\\''"));
        std::process::Command::new("sh").arg("-c").arg(format!("{editor} {quoted}")).status()
    } else {
        std::process::Command::new(editor).arg(path).status()
    };
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(Error::msg(format!("there was a problem with the editor \"{editor}\": {s}"))),
        Err(e) => Err(Error::msg(format!("unable to launch the editor \"{editor}\": {e}"))),
    }
}

/// The edited text with comment lines dropped; `None` when nothing is left.
pub fn strip_comments(text: &str) -> Option<String> {
    let kept: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with('#')).collect();
    let body = kept.join("\n");
    if body.trim().is_empty() {
        None
    } else {
        Some(body)
    }
}

pub async fn run(ctx: &mut Ctx, a: EditArgs) -> Result<()> {
    let json = match a.output.as_deref() {
        None | Some("yaml") => false,
        Some("json") => true,
        Some(other) => return Err(Error::msg(format!("the edit mode \"{other}\" is not supported; use yaml or json"))),
    };
    let found: Vec<Found> = if !a.filename.is_empty() {
        super::shared::fetch_manifest_objects(ctx, &a.filename, false).await?
    } else {
        let selections = resource::parse_args(&a.args)?;
        super::check_selection(&selections, None, false)?;
        if selections.iter().any(|s| s.names.is_empty()) {
            return Err(Error::msg("resource(s) were provided, but no name was specified"));
        }
        super::fetch(ctx, &selections, &Query::default(), false).await?
    };
    let editor = editor(std::env::var("KUBE_EDITOR").ok().as_deref(), std::env::var("EDITOR").ok().as_deref());
    let client = ctx.client().await?;
    for f in found {
        for original in f.objects {
            let suffix = if json { ".json" } else { ".yaml" };
            let body = if json { api::codec::to_json(&original) } else { api::codec::to_yaml(&original) };
            let mut file = tempfile::Builder::new().prefix("kubectl-edit-").suffix(suffix).tempfile()?;
            file.write_all(HEADER.as_bytes())?;
            file.write_all(body.as_bytes())?;
            file.flush()?;
            launch(&editor, file.path())?;
            let text = std::fs::read_to_string(file.path())?;
            let Some(edited_text) = strip_comments(&text) else {
                ctx.println("Edit cancelled, saved file was empty.");
                continue;
            };
            let edited: Value = match api::codec::yaml::document(&edited_text) {
                Ok(v) => v,
                Err(e) => {
                    keep_copy(ctx, file)?;
                    return Err(Error::msg(format!("error parsing edited file: {e}")));
                }
            };
            if edited == original {
                ctx.println("Edit cancelled, no changes made.");
                continue;
            }
            let identity = |o: &Value| {
                (api::meta::api_version(o).to_string(), api::meta::kind(o).to_string(), api::meta::name(o).to_string())
            };
            if identity(&edited) != identity(&original) {
                keep_copy(ctx, file)?;
                return Err(Error::msg("At least one of apiVersion, kind and name was changed"));
            }
            let patch = merge::two_way(&original, &edited);
            let name = api::meta::name(&original).to_string();
            let ns = api::meta::namespace(&original).to_string();
            match client.patch(f.info, &ns, &name, PatchType::Merge, &patch).await {
                Ok(_) => ctx.println(&format!("{} edited", printers::kind_name(f.info, &name))),
                Err(e) => {
                    ctx.report_api(&e, None);
                    keep_copy(ctx, file)?;
                    return Err(Error::msg("Edit cancelled, no valid changes were saved."));
                }
            }
        }
    }
    Ok(())
}

fn keep_copy(ctx: &mut Ctx, file: tempfile::NamedTempFile) -> Result<()> {
    let (_, path) = file.keep().map_err(|e| Error::msg(e.to_string()))?;
    ctx.warn(&format!("A copy of your changes has been stored to \"{}\"", path.display()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_precedence() {
        assert_eq!(editor(Some("nano"), Some("emacs")), "nano");
        assert_eq!(editor(None, Some("sed -i s/a/b/")), "sed -i s/a/b/");
        assert_eq!(editor(Some(" "), None), "vi");
        assert_eq!(editor(None, None), "vi");
    }

    #[test]
    fn comments_are_ignored_and_empty_files_abort() {
        assert_eq!(strip_comments(&format!("{HEADER}kind: Pod\n")).as_deref(), Some("kind: Pod"));
        assert_eq!(strip_comments(HEADER), None);
    }

    #[test]
    fn editors_with_arguments_run_through_the_shell() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("it's.yaml");
        std::fs::write(&path, "replicas: 3\n").unwrap();
        launch("sed -i s/3/10/", &path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "replicas: 10\n");
        assert!(launch("false", &path).is_err());
    }
}
