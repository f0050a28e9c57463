//! Reading a request body as JSON while noting the fields it sets twice:
//! Kubernetes' strict decoding reports them (`duplicate field
//! "metadata.name"`), and a parsed `serde_json::Value` has already kept only
//! the last. One pass: the value is built as it is read.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt::{self, Write as _};

/// Parses `body` as JSON; also returns the paths of fields set more than once.
pub fn parse(body: &[u8]) -> serde_json::Result<(Value, Vec<String>)> {
    let mut path = String::new();
    let mut duplicates = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = Seed { path: &mut path, duplicates: &mut duplicates }.deserialize(&mut de)?;
    de.end()?;
    Ok((value, duplicates))
}

/// Builds one value, with the path to it so far (one buffer, grown and cut back).
struct Seed<'a> {
    path: &'a mut String,
    duplicates: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let len = self.path.len();
        let mut items = Vec::new();
        loop {
            let _ = write!(self.path, "[{}]", items.len());
            let item = seq.next_element_seed(Seed { path: self.path, duplicates: self.duplicates })?;
            self.path.truncate(len);
            match item {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let len = self.path.len();
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if len > 0 {
                self.path.push('.');
            }
            self.path.push_str(&key);
            let value = map.next_value_seed(Seed { path: self.path, duplicates: self.duplicates })?;
            if out.insert(key, value).is_some() {
                self.duplicates.push(self.path.clone());
            }
            self.path.truncate(len);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_found_with_their_paths_and_the_last_value_wins() {
        let body = br#"{"metadata": {"name": "a", "name": "b"}, "spec": {"containers": [{"name": "x", "image": "1", "image": "2"}]}}"#;
        let (v, dups) = parse(body).unwrap();
        assert_eq!(dups, ["metadata.name", "spec.containers[0].image"]);
        assert_eq!(v["metadata"]["name"], "b");
        assert_eq!(v, serde_json::from_slice::<Value>(body).unwrap());
        let (_, none) = parse(br#"{"a": [1, 2.5, true, null, "s"], "b": {}}"#).unwrap();
        assert!(none.is_empty());
        assert!(parse(b"{nope").is_err());
        assert!(parse(b"{} x").is_err());
    }
}
