//! `kubectl scale`: a new replica count (a Job's parallelism) through a merge patch.

use super::shared::named_objects;
use super::Ctx;
use crate::cli::ScaleArgs;
use crate::error::{Error, Result};
use crate::printers;
use client::PatchType;
use serde_json::{json, Value};

pub async fn run(ctx: &mut Ctx, a: ScaleArgs) -> Result<()> {
    if a.replicas < 0 {
        return Err(Error::msg("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0"));
    }
    let found = named_objects(ctx, &a.args, &a.filename, a.selector.as_deref(), a.all).await?;
    let client = ctx.client().await?;
    for f in found {
        if !matches!(f.info.kind, "ReplicationController" | "ReplicaSet" | "Deployment" | "StatefulSet" | "Job") {
            ctx.report(&Error::msg(format!("cannot scale a {}: no scale subresource", f.info.kind)));
            continue;
        }
        for obj in f.objects {
            let name = api::meta::name(&obj).to_string();
            let ns = api::meta::namespace(&obj).to_string();
            let field = if f.info.kind == "Job" { "parallelism" } else { "replicas" };
            let current = obj.pointer(&format!("/spec/{field}")).and_then(Value::as_i64).unwrap_or(1);
            if a.current_replicas >= 0 && a.current_replicas != current {
                ctx.report(&Error::msg(format!("Expected replicas to be {}, was {current}", a.current_replicas)));
                continue;
            }
            let body = json!({"spec": {field: a.replicas}});
            match client.patch(f.info, &ns, &name, PatchType::Merge, &body).await {
                Ok(_) => ctx.println(&format!("{} scaled", printers::kind_name(f.info, &name))),
                Err(e) => ctx.report_api(&e, None),
            }
        }
    }
    Ok(())
}
