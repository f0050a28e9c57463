//! Making sure a container's image is on the machine, by its pull policy,
//! with Kubernetes' events, waiting reasons and pull backoff.
//!
//! kubelab machines reach no registry, so pulls fail. Where Kubernetes would
//! then stop, a pull that fails while the image is present locally uses the
//! local image and says so in an event; an image that is absent shows
//! `ErrImagePull` and then `ImagePullBackOff`, as in Kubernetes.

use super::backoff::{Backoff, Policy};
use crate::api::{EventType, PodApi};
use crate::clock::Clock;
use crate::runtime::Runtime;
use api::duration::format as go_duration;
use client::events::reference_to as reference;
use k8s_openapi::api::core::v1::{Container, Pod};

/// Why a container cannot start for its image: waiting reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageError {
    pub reason: &'static str,
    pub message: String,
}

/// The container's `imagePullPolicy`, or the one the apiserver defaults it to
/// (`api::validation::pull_policy`) when a pod reaches the kubelet without one.
pub fn pull_policy(container: &Container) -> &str {
    match container.image_pull_policy.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => p,
        None => api::validation::pull_policy(container.image.as_deref().unwrap_or("")),
    }
}

pub struct ImageCtx<'a> {
    pub runtime: &'a dyn Runtime,
    pub api: &'a dyn PodApi,
    pub pod: &'a Pod,
    pub clock: Clock,
    pub policy: Policy,
}

/// Ensures `image` is present; events go to the pod as Kubernetes words them.
pub async fn ensure_image(
    ctx: &ImageCtx<'_>,
    image: &str,
    pull_policy: &str,
    backoff: &mut Backoff,
) -> Result<(), ImageError> {
    let present = match ctx.runtime.inspect_image(image).await {
        Ok(p) => p,
        Err(e) => {
            return Err(ImageError {
                reason: "ErrImageInspect",
                message: format!("Failed to inspect image {image:?}: {e}"),
            })
        }
    };
    let involved = reference(ctx.pod);
    let event = |kind, reason: &str, message: &str| ctx.api.event(&involved, kind, reason, message);
    let must_pull = match pull_policy {
        "Never" => false,
        "IfNotPresent" => present.is_none(),
        _ => true,
    };
    if !must_pull {
        if present.is_some() {
            event(EventType::Normal, "Pulled", &format!("Container image {image:?} already present on machine"));
            return Ok(());
        }
        let message = format!("Container image {image:?} is not present with pull policy of Never");
        event(EventType::Warning, "ErrImageNeverPull", &message);
        return Err(ImageError { reason: "ErrImageNeverPull", message });
    }
    let now = ctx.clock.now();
    // A missing image is not pulled again until its backoff passes; a present one never waits.
    if present.is_none() && backoff.remaining_since_update(now, ctx.policy).is_some() {
        let message = format!("Back-off pulling image {image:?}");
        event(EventType::Normal, "BackOff", &message);
        event(EventType::Warning, "Failed", "Error: ImagePullBackOff");
        return Err(ImageError { reason: "ImagePullBackOff", message });
    }
    event(EventType::Normal, "Pulling", &format!("Pulling image {image:?}"));
    match ctx.runtime.pull_image(image).await {
        Ok(()) => {
            let took = go_duration(millis(ctx.clock.since(now)));
            let size = match ctx.runtime.inspect_image(image).await {
                Ok(Some(info)) => info.size,
                _ => 0,
            };
            event(
                EventType::Normal,
                "Pulled",
                &format!("Successfully pulled image {image:?} in {took} ({took} including waiting). Image size: {size} bytes."),
            );
            *backoff = Backoff::default();
            Ok(())
        }
        Err(e) if present.is_some() => {
            event(
                EventType::Normal,
                "Pulled",
                &format!("Pulling image {image:?} failed ({e}); using the image already present on machine"),
            );
            Ok(())
        }
        Err(e) => {
            let message = format!("Failed to pull image {image:?}: {e}");
            event(EventType::Warning, "Failed", &message);
            event(EventType::Warning, "Failed", "Error: ErrImagePull");
            backoff.next(now, now, ctx.policy);
            Err(ImageError { reason: "ErrImagePull", message: e.to_string() })
        }
    }
}

fn millis(d: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_millis(d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_pull_policies() {
        let container = |v: serde_json::Value| -> Container { serde_json::from_value(v).unwrap() };
        let policy = |image: &str| pull_policy(&container(json!({ "name": "c", "image": image }))).to_string();
        assert_eq!(policy("luksa/kubia"), "Always");
        assert_eq!(policy("luksa/kubia:latest"), "Always");
        assert_eq!(policy("luksa/kubia:v1"), "IfNotPresent");
        assert_eq!(policy("localhost:5000/kubia"), "Always");
        assert_eq!(policy("busybox@sha256:abc"), "IfNotPresent");
        assert_eq!(pull_policy(&container(json!({"name": "c", "image": "a:v1", "imagePullPolicy": "Never"}))), "Never");
    }
}
