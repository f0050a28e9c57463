//! Secret: `stringData` is write-only, merged into `data` (base64, its
//! entries winning) on every create, update and patch before defaulting, as
//! kube-apiserver's v1 conversion does, so it is never stored or returned.
//! `type` defaults to `Opaque` and may not change; each type's required
//! keys, the config-key syntax of `data`'s keys, the 1 MiB limit and
//! `immutable` are checked in `api::validation` (`validation/config.rs`).

use crate::strategy::Strategy;
use api::{validation, ApiError, ResourceInfo};
use serde_json::Value;

pub struct SecretStrategy;

impl Strategy for SecretStrategy {
    fn info(&self) -> &'static ResourceInfo {
        super::lookup("secrets")
    }

    fn default(&self, obj: &mut Value) -> Result<(), ApiError> {
        validation::merge_string_data(obj);
        validation::apply_defaults(self.info(), obj)
    }
}

#[cfg(test)]
mod tests {
    use crate::kinds::testing::strategy;
    use crate::strategy::{before_create, before_update};
    use serde_json::json;

    #[test]
    fn string_data_is_stored_as_data_on_create_and_update() {
        let secrets = strategy("secrets");
        let mut s = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
                           "stringData": {"user": "admin"}});
        before_create(&*secrets, &mut s);
        secrets.default(&mut s).unwrap();
        secrets.validate(&s, None).unwrap();
        assert_eq!(s["data"], json!({"user": "YWRtaW4="}));
        assert_eq!(s["type"], "Opaque");
        assert!(s.get("stringData").is_none());

        let mut update = s.clone();
        update["stringData"] = json!({"pass": "x"});
        before_update(&*secrets, &mut update, &s, "");
        secrets.default(&mut update).unwrap();
        secrets.validate(&update, Some(&s)).unwrap();
        assert_eq!(update["data"], json!({"user": "YWRtaW4=", "pass": "eA=="}));
    }

    #[test]
    fn an_immutable_secrets_data_may_not_change_through_string_data() {
        let secrets = strategy("secrets");
        let mut old = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
                             "immutable": true, "data": {"a": "eA=="}});
        secrets.default(&mut old).unwrap();
        let mut same = old.clone();
        same["stringData"] = json!({"a": "x"});
        secrets.default(&mut same).unwrap();
        assert!(secrets.validate(&same, Some(&old)).is_ok(), "the same bytes are no change");
        let mut changed = old.clone();
        changed["stringData"] = json!({"a": "y"});
        secrets.default(&mut changed).unwrap();
        let err = secrets.validate(&changed, Some(&old)).unwrap_err();
        assert_eq!(err.message, "Secret \"s\" is invalid: data: Forbidden: field is immutable when `immutable` is set");
    }
}
