//! `kubectl scale`: a new replica count (a Job's parallelism) through a merge patch.

use super::shared::named_objects;
use super::Ctx;
use crate::cli::ScaleArgs;
use crate::error::{Error, Result};
use crate::printers;
use crate::typed::decode;
use api::k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use api::k8s_openapi::api::batch::v1::Job;
use api::k8s_openapi::api::core::v1::ReplicationController;
use client::PatchType;
use serde_json::{json, Value};

/// The count `scale` changes, as the object's spec holds it (None when unset).
fn current_count(kind: &str, obj: &Value) -> std::result::Result<Option<i32>, serde_json::Error> {
    Ok(match kind {
        "ReplicationController" => decode::<ReplicationController>(obj)?.spec.and_then(|s| s.replicas),
        "ReplicaSet" => decode::<ReplicaSet>(obj)?.spec.and_then(|s| s.replicas),
        "Deployment" => decode::<Deployment>(obj)?.spec.and_then(|s| s.replicas),
        "StatefulSet" => decode::<StatefulSet>(obj)?.spec.and_then(|s| s.replicas),
        "Job" => decode::<Job>(obj)?.spec.and_then(|s| s.parallelism),
        _ => None,
    })
}

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
            let current = match current_count(f.info.kind, &obj) {
                Ok(n) => i64::from(n.unwrap_or(1)),
                Err(e) => {
                    ctx.report(&Error::msg(format!("unreadable {} \"{name}\": {e}", f.info.kind)));
                    continue;
                }
            };
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
