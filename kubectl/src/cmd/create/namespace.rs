//! `kubectl create namespace NAME`.

use crate::cmd::Ctx;
use crate::error::Result;
use serde_json::json;

pub async fn run(ctx: &mut Ctx, name: &str) -> Result<()> {
    let info = api::registry::lookup("namespaces").expect("namespaces are registered");
    let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    let client = ctx.client().await?;
    client.create(info, "", &obj).await?;
    ctx.println(&format!("namespace/{name} created"));
    Ok(())
}
