//! `kubectl set image`: new images for the containers of a pod or a workload's pod template.

use super::Ctx;
use crate::cli::SetImageArgs;
use crate::error::{Error, Result};
use crate::printers;
use crate::resource;
use api::meta;
use serde_json::Value;

/// Splits `set image` arguments into resources and `CONTAINER=IMAGE` pairs.
/// `set image`'s arguments: the resources, then `(container, image)` pairs.
type ImageArgs = (Vec<String>, Vec<(String, String)>);

pub fn split_image_args(args: &[String]) -> Result<ImageArgs> {
    let (mut resources, mut images) = (Vec::new(), Vec::new());
    for arg in args {
        match arg.split_once('=') {
            Some((c, i)) if !c.is_empty() && !i.is_empty() => images.push((c.to_string(), i.to_string())),
            Some(_) => return Err(Error::msg(format!("invalid image update {arg:?}: expected CONTAINER=IMAGE"))),
            None if images.is_empty() => resources.push(arg.clone()),
            None => return Err(Error::msg("all resources must be specified before image changes: ".to_string() + arg)),
        }
    }
    if images.is_empty() {
        return Err(Error::msg("at least one image update is required"));
    }
    Ok((resources, images))
}

/// Where a kind keeps its pod spec.
fn pod_spec_path(kind: &str) -> Option<&'static str> {
    match kind {
        "Pod" => Some("/spec"),
        "CronJob" => Some("/spec/jobTemplate/spec/template/spec"),
        "Deployment" | "ReplicaSet" | "ReplicationController" | "DaemonSet" | "StatefulSet" | "Job" => {
            Some("/spec/template/spec")
        }
        _ => None,
    }
}

/// Sets images in an object's containers (`*` is every container); the names not found are returned.
/// It edits the JSON in place, as `edit` and `patch` do: the object written
/// back is the server's, every field of any of the seven kinds kept as it was.
pub fn set_images(obj: &mut Value, images: &[(String, String)]) -> Vec<String> {
    let Some(spec) = pod_spec_path(meta::kind(obj)).and_then(|p| obj.pointer_mut(p)) else {
        return images.iter().map(|(c, _)| c.clone()).collect();
    };
    let mut missing = Vec::new();
    for (name, image) in images {
        let mut found = false;
        for list in ["initContainers", "containers"] {
            // get_mut, not spec[list]: indexing would add `"initContainers": null` to the object.
            for c in spec.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
                if name == "*" || c["name"] == name.as_str() {
                    c["image"] = image.clone().into();
                    found = true;
                }
            }
        }
        if !found {
            missing.push(name.clone());
        }
    }
    missing
}

pub async fn image(ctx: &mut Ctx, a: SetImageArgs) -> Result<()> {
    let (resources, images) = split_image_args(&a.args)?;
    let selections = resource::parse_args(&resources)?;
    super::check_selection(&selections, a.selector.as_deref(), a.all)?;
    let query = super::Query { label_selector: a.selector.clone().unwrap_or_default(), ..Default::default() };
    let found = super::fetch(ctx, &selections, &query, false).await?;
    let client = ctx.client().await?;
    for f in found {
        for mut obj in f.objects {
            let name = meta::name(&obj).to_string();
            let missing = set_images(&mut obj, &images);
            if let Some(c) = missing.first() {
                ctx.report(&Error::msg(format!("unable to find container named \"{c}\"")));
                continue;
            }
            let ns = meta::namespace(&obj).to_string();
            match client.update(f.info, &ns, &obj).await {
                Ok(_) => ctx.println(&format!("{} image updated", printers::kind_name(f.info, &name))),
                Err(e) => ctx.report_api(&e, None),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_image_splits_resources_from_images() {
        let args: Vec<String> = ["deployment/kubia", "nodejs=luksa/kubia:v2"].iter().map(|s| s.to_string()).collect();
        let (resources, images) = split_image_args(&args).unwrap();
        assert_eq!(resources, ["deployment/kubia"]);
        assert_eq!(images, [("nodejs".to_string(), "luksa/kubia:v2".to_string())]);
        assert!(split_image_args(&["deployment/kubia".to_string()]).is_err());

        let mut d = json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [
            {"name": "nodejs", "image": "luksa/kubia:v1"}, {"name": "sidecar", "image": "busybox"}]}}}});
        assert!(set_images(&mut d, &images).is_empty());
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "luksa/kubia:v2");
        assert_eq!(set_images(&mut d, &[("web".into(), "x".into())]), ["web"]);
        set_images(&mut d, &[("*".into(), "all:1".into())]);
        assert_eq!(d["spec"]["template"]["spec"]["containers"][1]["image"], "all:1");
        // Only the images changed: no initContainers key appeared (it used to, as null).
        let template_spec = d["spec"]["template"]["spec"].as_object().unwrap();
        assert_eq!(template_spec.keys().collect::<Vec<_>>(), ["containers"]);
    }
}
