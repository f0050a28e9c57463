//! Request bodies in Kubernetes' protobuf encoding
//! (`application/vnd.kubernetes.protobuf`), read into the object's JSON so the
//! registry handles them as it does JSON bodies. Current kubectl sends its typed
//! commands' objects (`create namespace`, `create deployment`, ...) this way.
//!
//! The encoding: the magic `k8s\0`, then a `runtime.Unknown` {1 TypeMeta {1
//! apiVersion, 2 kind}, 2 raw (the object's message), 3 contentEncoding, 4
//! contentType}. The object's messages are k8s.io/api's generated.proto; their
//! fields come from `protobuf_fields.txt` (generated, see its header). A few
//! apimachinery messages have a JSON form of their own (`Time`, `Quantity`,
//! `IntOrString`, `RawExtension`, ...), written here as Kubernetes writes them.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use api::ApiError;
use serde_json::{Map, Value};

/// The magic bytes a Kubernetes protobuf body starts with.
const MAGIC: &[u8] = b"k8s\0";

/// How deep messages may nest before the body is refused (a guard against a
/// hostile body exhausting the stack; real objects nest far less).
const MAX_DEPTH: usize = 100;

/// Decodes a Kubernetes protobuf body (`k8s\0` + Unknown) into the object's JSON.
/// Errors (bad magic, truncated, unknown type, wire type mismatch) are
/// ApiError::bad_request naming what is wrong; never panics on any input.
pub fn to_json(body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let value = decode_body(body, 0).map_err(|e| ApiError::bad_request(format!("protobuf body: {e}")))?;
    serde_json::to_vec(&value).map_err(|e| ApiError::bad_request(format!("protobuf body: {e}")))
}

/// `body` (magic and Unknown) as the object's JSON value.
fn decode_body(body: &[u8], depth: usize) -> Result<Value, String> {
    let Some(unknown) = body.strip_prefix(MAGIC) else {
        return Err("does not start with the magic bytes \"k8s\\x00\"".into());
    };
    let (mut api_version, mut kind, mut raw, mut encoding) = (String::new(), String::new(), &[][..], String::new());
    let mut reader = Reader::new(unknown);
    while let Some((tag, wire)) = reader.key()? {
        match (tag, wire) {
            (1, LEN) => {
                let mut meta = Reader::new(reader.bytes()?);
                while let Some((tag, wire)) = meta.key()? {
                    match (tag, wire) {
                        (1, LEN) => api_version = meta.string(&"TypeMeta.apiVersion")?,
                        (2, LEN) => kind = meta.string(&"TypeMeta.kind")?,
                        _ => meta.skip(tag, wire)?,
                    }
                }
            }
            (2, LEN) => raw = reader.bytes()?,
            (3, LEN) => encoding = reader.string(&"Unknown.contentEncoding")?,
            (1..=3, _) => return Err(format!("Unknown field {tag} has wire type {wire}, want {LEN}")),
            _ => reader.skip(tag, wire)?,
        }
    }
    if !encoding.is_empty() {
        return Err(format!("content encoding {encoding:?} is not supported"));
    }
    if kind.is_empty() {
        return Err("the Unknown envelope names no kind".into());
    }
    let table = table();
    let message = table
        .message_for(&api_version, &kind)
        .ok_or_else(|| format!("no protobuf message is known for kind {kind:?} in {api_version:?}"))?;
    let mut object = Map::new();
    object.insert("kind".into(), Value::String(kind));
    object.insert("apiVersion".into(), Value::String(api_version));
    let decoded = decode_message(table, message, raw, depth + 1)?;
    if let Value::Object(fields) = decoded {
        object.extend(fields);
    }
    Ok(Value::Object(object))
}

/// Wire types.
const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const I32: u8 = 5;

/// Reads protobuf's wire format from a byte slice, refusing what runs past its end.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for i in 0..10 {
            let Some((&byte, rest)) = self.buf.split_first() else {
                return Err("truncated varint".into());
            };
            self.buf = rest;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    /// The next field's number and wire type, or None at the end.
    fn key(&mut self) -> Result<Option<(u32, u8)>, String> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let tag = u32::try_from(key >> 3).map_err(|_| format!("field number {} out of range", key >> 3))?;
        if tag == 0 {
            return Err("field number 0".into());
        }
        Ok(Some((tag, (key & 7) as u8)))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.buf.len() {
            return Err(format!("truncated: {n} bytes wanted, {} left", self.buf.len()));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| format!("length {len} out of range"))?;
        self.take(len)
    }

    fn string(&mut self, what: &dyn fmt::Display) -> Result<String, String> {
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
    }

    fn fixed64(&mut self) -> Result<u64, String> {
        let bytes = self.take(8)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(array))
    }

    /// Skips a field this table does not know, as protobuf readers do.
    fn skip(&mut self, tag: u32, wire: u8) -> Result<(), String> {
        match wire {
            VARINT => self.varint().map(drop),
            I64 => self.take(8).map(drop),
            LEN => self.bytes().map(drop),
            I32 => self.take(4).map(drop),
            _ => Err(format!("field {tag} has unsupported wire type {wire}")),
        }
    }
}

/// A field's value type in the table.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Ty {
    String,
    Bytes,
    Bool,
    Int32,
    Int64,
    Double,
    Message,
}

/// One field of a message, as the table describes it.
#[derive(Debug)]
struct Field {
    json: &'static str,
    ty: Ty,
    repeated: bool,
    /// A map from string to `ty` (entries {1 key, 2 value}).
    map: bool,
    /// A Go non-pointer `omitempty` field: its zero value is left out of the JSON.
    omit_zero: bool,
    /// A Go embedded struct: its fields are the parent's in JSON.
    inline: bool,
    /// The nested message's full name, for `Ty::Message`.
    message: String,
}

/// The generated table: API groups' message packages and every message's fields.
struct Table {
    groups: HashMap<&'static str, &'static str>,
    messages: HashMap<String, HashMap<u32, Field>>,
}

static TABLE_TEXT: &str = include_str!("protobuf_fields.txt");

/// The table, read once from the generated file.
fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| Table::parse(TABLE_TEXT))
}

impl Table {
    /// Reads the table's text (see its header); lines it cannot read are left out,
    /// which the tests make sure does not happen.
    fn parse(text: &'static str) -> Table {
        let mut groups = HashMap::new();
        let mut messages: HashMap<String, HashMap<u32, Field>> = HashMap::new();
        let mut current: Option<&'static str> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("= ") {
                if let Some((group, module)) = rest.split_once(' ') {
                    groups.insert(if group == "-" { "" } else { group }, module);
                }
            } else if let Some(name) = line.strip_prefix('@') {
                current = Some(name);
                messages.entry(name.to_string()).or_default();
            } else if let (Some(message), Some(field)) = (current, Field::parse(line, current)) {
                if let Some(fields) = messages.get_mut(message) {
                    fields.insert(field.0, field.1);
                }
            }
        }
        Table { groups, messages }
    }

    /// The message of `kind` in `api_version`; meta.k8s.io's kinds (`DeleteOptions`)
    /// are every group's.
    fn message_for(&self, api_version: &str, kind: &str) -> Option<&str> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let own = self.groups.get(group).map(|module| format!("{module}.{version}.{kind}"));
        let meta = format!("meta.v1.{kind}");
        [own, Some(meta)]
            .into_iter()
            .flatten()
            .find_map(|name| self.messages.get_key_value(&name).map(|(k, _)| k.as_str()))
    }
}

impl Field {
    /// `tag json type[flags] [message]` in message `parent`.
    fn parse(line: &'static str, parent: Option<&str>) -> Option<(u32, Field)> {
        let mut parts = line.split(' ');
        let tag = parts.next()?.parse().ok()?;
        let json = parts.next()?;
        let mut code = parts.next()?;
        let nested = parts.next();
        let repeated = code.starts_with('*');
        let map = code.starts_with('M');
        if repeated || map {
            code = &code[1..];
        }
        let omit_zero = code.ends_with('?');
        let inline = code.ends_with('~');
        let ty = match code.trim_end_matches(['?', '~']) {
            "s" => Ty::String,
            "y" => Ty::Bytes,
            "b" => Ty::Bool,
            "i" => Ty::Int32,
            "l" => Ty::Int64,
            "d" => Ty::Double,
            "m" => Ty::Message,
            _ => return None,
        };
        let message = match nested {
            // A name without dots is in the parent's package.
            Some(name) if !name.contains('.') => {
                let package = parent?.rsplit_once('.')?.0;
                format!("{package}.{name}")
            }
            Some(name) => name.to_string(),
            None if ty == Ty::Message => return None,
            None => String::new(),
        };
        Some((tag, Field { json, ty, repeated, map, omit_zero, inline, message }))
    }
}

/// Decodes `buf` as message `name` into its JSON value.
fn decode_message(table: &Table, name: &str, buf: &[u8], depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("messages nest deeper than {MAX_DEPTH}"));
    }
    if let Some(special) = decode_special(table, name, buf, depth)? {
        return Ok(special);
    }
    let fields = table.messages.get(name).ok_or_else(|| format!("message {name} is not known"))?;
    let mut object = Map::new();
    let mut reader = Reader::new(buf);
    while let Some((tag, wire)) = reader.key()? {
        let Some(field) = fields.get(&tag) else {
            reader.skip(tag, wire)?;
            continue;
        };
        let what = Site(name, field.json);
        if field.map {
            expect_wire(wire, LEN, &what)?;
            let (key, value) = decode_entry(table, field, reader.bytes()?, depth, &what)?;
            let entry = object.entry(field.json).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = entry {
                map.insert(key, value);
            }
            continue;
        }
        if field.repeated {
            let mut values = Vec::new();
            if wire == LEN && matches!(field.ty, Ty::Bool | Ty::Int32 | Ty::Int64 | Ty::Double) {
                // Packed: one length-delimited run of values.
                let mut packed = Reader::new(reader.bytes()?);
                while !packed.buf.is_empty() {
                    values.push(decode_scalar(&mut packed, field.ty, &what)?);
                }
            } else {
                values.push(decode_value(table, field, &mut reader, wire, depth, &what)?);
            }
            let entry = object.entry(field.json).or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(array) = entry {
                array.extend(values);
            }
            continue;
        }
        let value = decode_value(table, field, &mut reader, wire, depth, &what)?;
        if field.inline {
            if let Value::Object(inner) = value {
                object.extend(inner);
            }
            continue;
        }
        if value.is_null() || (field.omit_zero && is_zero(&value)) {
            object.remove(field.json);
            continue;
        }
        match (object.get_mut(field.json), value) {
            // A message seen twice is merged, as protobuf readers do.
            (Some(Value::Object(old)), Value::Object(new)) => old.extend(new),
            (_, value) => {
                object.insert(field.json.to_string(), value);
            }
        }
    }
    Ok(Value::Object(object))
}

/// Where in a message a value is, for errors: `message.field`, formatted only
/// when an error names it.
struct Site<'a>(&'a str, &'a str);

impl fmt::Display for Site<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

fn expect_wire(wire: u8, want: u8, what: &dyn fmt::Display) -> Result<(), String> {
    if wire == want {
        Ok(())
    } else {
        Err(format!("{what} has wire type {wire}, want {want}"))
    }
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

/// One value of `field` (not a map entry), read from its wire type.
fn decode_value(
    table: &Table,
    field: &Field,
    reader: &mut Reader<'_>,
    wire: u8,
    depth: usize,
    what: &dyn fmt::Display,
) -> Result<Value, String> {
    match field.ty {
        Ty::Message => {
            expect_wire(wire, LEN, what)?;
            decode_message(table, &field.message, reader.bytes()?, depth + 1)
        }
        Ty::String | Ty::Bytes => {
            expect_wire(wire, LEN, what)?;
            decode_scalar(reader, field.ty, what)
        }
        Ty::Double => {
            expect_wire(wire, I64, what)?;
            decode_scalar(reader, field.ty, what)
        }
        Ty::Bool | Ty::Int32 | Ty::Int64 => {
            expect_wire(wire, VARINT, what)?;
            decode_scalar(reader, field.ty, what)
        }
    }
}

/// A scalar of type `ty`, its wire type already checked.
fn decode_scalar(reader: &mut Reader<'_>, ty: Ty, what: &dyn fmt::Display) -> Result<Value, String> {
    Ok(match ty {
        Ty::String => Value::String(reader.string(what)?),
        Ty::Bytes => base64(reader.bytes()?),
        Ty::Bool => Value::Bool(reader.varint()? != 0),
        // Go truncates a varint to the field's width; so does this.
        Ty::Int32 => Value::from(reader.varint()? as i32),
        Ty::Int64 => Value::from(reader.varint()? as i64),
        Ty::Double => {
            let value = f64::from_bits(reader.fixed64()?);
            serde_json::Number::from_f64(value)
                .map(Value::Number)
                .ok_or_else(|| format!("{what} is {value}, which JSON cannot hold"))?
        }
        Ty::Message => return Err(format!("{what} is a message where a scalar was expected")),
    })
}

/// A map entry {1 key, 2 value} of `field`.
fn decode_entry(
    table: &Table,
    field: &Field,
    buf: &[u8],
    depth: usize,
    what: &dyn fmt::Display,
) -> Result<(String, Value), String> {
    let mut key = String::new();
    let mut value = None;
    let mut reader = Reader::new(buf);
    while let Some((tag, wire)) = reader.key()? {
        match tag {
            1 => {
                expect_wire(wire, LEN, what)?;
                key = reader.string(what)?;
            }
            2 => value = Some(decode_value(table, field, &mut reader, wire, depth, what)?),
            _ => reader.skip(tag, wire)?,
        }
    }
    // An entry without a value holds the value type's zero.
    let value = match (value, field.ty) {
        (Some(value), _) => value,
        (None, Ty::Message) => decode_message(table, &field.message, &[], depth + 1)?,
        (None, Ty::String) => Value::String(String::new()),
        (None, Ty::Bytes) => Value::String(String::new()),
        (None, Ty::Bool) => Value::Bool(false),
        (None, _) => Value::from(0),
    };
    Ok((key, value))
}

/// `bytes` as JSON writes Go's `[]byte`: standard base64.
fn base64(bytes: &[u8]) -> Value {
    serde_json::to_value(k8s_openapi::ByteString(bytes.to_vec())).unwrap_or(Value::Null)
}

/// The messages whose JSON is not their fields: None for the others.
fn decode_special(table: &Table, name: &str, buf: &[u8], depth: usize) -> Result<Option<Value>, String> {
    let value = match name {
        "meta.v1.Time" | "meta.v1.MicroTime" => {
            let (seconds, nanos) = (varint_field(buf, 1, name)?, varint_field(buf, 2, name)?);
            if buf.is_empty() {
                // Go writes the zero time as an empty message; its JSON is null.
                return Ok(Some(Value::Null));
            }
            let nanos = nanos.unwrap_or(0) as i32;
            let time = jiff::Timestamp::new(seconds.unwrap_or(0) as i64, nanos)
                .map_err(|e| format!("{name} out of range: {e}"))?;
            Value::String(if name == "meta.v1.Time" { api::time::format(time) } else { api::time::format_micro(time) })
        }
        "meta.v1.Duration" => {
            let nanos = varint_field(buf, 1, name)?.unwrap_or(0) as i64;
            let text = api::duration::format(std::time::Duration::from_nanos(nanos.unsigned_abs()));
            Value::String(if nanos < 0 { format!("-{text}") } else { text })
        }
        "util.intstr.IntOrString" => {
            let kind = varint_field(buf, 1, name)?.unwrap_or(0);
            if kind == 1 {
                Value::String(len_field(buf, 3, name)?.map(utf8).transpose()?.unwrap_or_default())
            } else {
                Value::from(varint_field(buf, 2, name)?.unwrap_or(0) as i32)
            }
        }
        "api.resource.Quantity" => Value::String(len_field(buf, 1, name)?.map(utf8).transpose()?.unwrap_or_default()),
        "runtime.RawExtension" | "meta.v1.FieldsV1" | "apiextensions.v1.JSON" | "apiextensions.v1beta1.JSON" => {
            match len_field(buf, 1, name)? {
                None | Some([]) => Value::Null,
                // An embedded object may itself be in protobuf.
                Some(raw) if raw.starts_with(MAGIC) => decode_body(raw, depth + 1)?,
                Some(raw) => serde_json::from_slice(raw).map_err(|e| format!("{name} is not JSON: {e}"))?,
            }
        }
        // Go's named string slices (`type ExtraValue []string`): the list itself.
        _ if name.ends_with(".ExtraValue") || name == "meta.v1.Verbs" => {
            let mut items = Vec::new();
            let mut reader = Reader::new(buf);
            while let Some((tag, wire)) = reader.key()? {
                if tag == 1 {
                    expect_wire(wire, LEN, &name)?;
                    items.push(Value::String(reader.string(&name)?));
                } else {
                    reader.skip(tag, wire)?;
                }
            }
            Value::Array(items)
        }
        // A CRD schema's unions: a schema, or the bool, list of schemas or
        // list of names (`additionalProperties`, `items`, `dependencies`).
        _ if name.starts_with("apiextensions.") && name.contains(".JSONSchemaPropsOr") => {
            decode_schema_union(table, name, buf, depth)?
        }
        _ => return Ok(None),
    };
    Ok(Some(value))
}

/// A `JSONSchemaPropsOrBool` {1 allows, 2 schema}, `JSONSchemaPropsOrArray` {1
/// schema, 2 schemas} or `JSONSchemaPropsOrStringArray` {1 schema, 2 names} as
/// the apiextensions types marshal them to JSON.
fn decode_schema_union(table: &Table, name: &str, buf: &[u8], depth: usize) -> Result<Value, String> {
    let package = name.rsplit_once('.').map_or("", |(package, _)| package);
    let schema_name = format!("{package}.JSONSchemaProps");
    let or_bool = name.ends_with("OrBool");
    let (mut schema, mut allows, mut list) = (None, false, Vec::new());
    let mut reader = Reader::new(buf);
    while let Some((tag, wire)) = reader.key()? {
        match (tag, or_bool) {
            (1, true) => {
                expect_wire(wire, VARINT, &name)?;
                allows = reader.varint()? != 0;
            }
            (1, false) | (2, true) => {
                expect_wire(wire, LEN, &name)?;
                schema = Some(decode_message(table, &schema_name, reader.bytes()?, depth + 1)?);
            }
            (2, false) => {
                expect_wire(wire, LEN, &name)?;
                list.push(if name.ends_with("OrStringArray") {
                    Value::String(reader.string(&name)?)
                } else {
                    decode_message(table, &schema_name, reader.bytes()?, depth + 1)?
                });
            }
            _ => reader.skip(tag, wire)?,
        }
    }
    Ok(match schema {
        _ if !list.is_empty() => Value::Array(list),
        Some(schema) => schema,
        None if or_bool => Value::Bool(allows),
        None => Value::Null,
    })
}

fn utf8(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "a string is not UTF-8".to_string())
}

/// The last varint field `tag` of the message in `buf`, if any.
fn varint_field(buf: &[u8], want: u32, name: &str) -> Result<Option<u64>, String> {
    let mut reader = Reader::new(buf);
    let mut found = None;
    while let Some((tag, wire)) = reader.key()? {
        if tag == want {
            expect_wire(wire, VARINT, &format!("{name} field {tag}"))?;
            found = Some(reader.varint()?);
        } else {
            reader.skip(tag, wire)?;
        }
    }
    Ok(found)
}

/// The last length-delimited field `tag` of the message in `buf`, if any.
fn len_field<'a>(buf: &'a [u8], want: u32, name: &str) -> Result<Option<&'a [u8]>, String> {
    let mut reader = Reader::new(buf);
    let mut found = None;
    while let Some((tag, wire)) = reader.key()? {
        if tag == want {
            expect_wire(wire, LEN, &format!("{name} field {tag}"))?;
            found = Some(reader.bytes()?);
        } else {
            reader.skip(tag, wire)?;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::encoding::{self, WireType};
    use serde_json::json;

    /// A message under construction, written with prost's encoders.
    #[derive(Default)]
    struct Msg(Vec<u8>);

    impl Msg {
        fn new() -> Self {
            Msg::default()
        }
        fn str(mut self, tag: u32, value: &str) -> Self {
            encoding::string::encode(tag, &value.to_string(), &mut self.0);
            self
        }
        fn bytes(mut self, tag: u32, value: &[u8]) -> Self {
            encoding::bytes::encode(tag, &value.to_vec(), &mut self.0);
            self
        }
        fn int(mut self, tag: u32, value: i64) -> Self {
            encoding::int64::encode(tag, &value, &mut self.0);
            self
        }
        fn bool(mut self, tag: u32, value: bool) -> Self {
            encoding::bool::encode(tag, &value, &mut self.0);
            self
        }
        fn packed(mut self, tag: u32, values: &[i64]) -> Self {
            encoding::int64::encode_packed(tag, values, &mut self.0);
            self
        }
        fn msg(mut self, tag: u32, inner: Msg) -> Self {
            encoding::encode_key(tag, WireType::LengthDelimited, &mut self.0);
            encoding::encode_varint(inner.0.len() as u64, &mut self.0);
            self.0.extend(inner.0);
            self
        }
        /// A map entry {1 key, 2 string value}.
        fn entry(self, tag: u32, key: &str, value: &str) -> Self {
            self.msg(tag, Msg::new().str(1, key).str(2, value))
        }
        fn entry_bytes(self, tag: u32, key: &str, value: &[u8]) -> Self {
            self.msg(tag, Msg::new().str(1, key).bytes(2, value))
        }
        fn entry_msg(self, tag: u32, key: &str, value: Msg) -> Self {
            self.msg(tag, Msg::new().str(1, key).msg(2, value))
        }
    }

    /// `k8s\0` + Unknown{TypeMeta, raw} as kubectl sends it.
    fn body(api_version: &str, kind: &str, object: Msg) -> Vec<u8> {
        let unknown =
            Msg::new().msg(1, Msg::new().str(1, api_version).str(2, kind)).bytes(2, &object.0).str(3, "").str(4, "");
        [MAGIC, &unknown.0].concat()
    }

    fn decode(body: &[u8]) -> Value {
        serde_json::from_slice(&to_json(body).expect("decodes")).expect("JSON")
    }

    fn error(body: &[u8]) -> String {
        to_json(body).expect_err("refused").to_string()
    }

    /// ObjectMeta as Go writes it: every non-pointer string, empty or not.
    fn meta(name: &str) -> Msg {
        Msg::new().str(1, name).str(2, "").str(3, "").str(4, "").str(5, "").str(6, "").int(7, 0).msg(8, Msg::new())
    }

    #[test]
    fn namespace_as_kubectl_create_namespace_sends_it() {
        let ns = Msg::new().msg(1, meta("x").entry(11, "team", "a")).msg(2, Msg::new()).msg(3, Msg::new().str(1, ""));
        assert_eq!(
            decode(&body("v1", "Namespace", ns)),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "labels": {"team": "a"}},
                   "spec": {}, "status": {}})
        );
    }

    #[test]
    fn deployment_with_ports_resources_env_and_strategy() {
        let container = Msg::new()
            .str(1, "web")
            .str(2, "nginx:1.27")
            .str(5, "")
            .msg(6, Msg::new().str(1, "").int(2, 0).int(3, 80).str(4, "TCP"))
            .msg(7, Msg::new().str(1, "MODE").str(2, "prod"))
            .msg(
                8,
                Msg::new().entry_msg(1, "cpu", Msg::new().str(1, "500m")).entry_msg(
                    2,
                    "memory",
                    Msg::new().str(1, "64Mi"),
                ),
            );
        let template = Msg::new()
            .msg(1, meta("").entry(11, "app", "web"))
            .msg(2, Msg::new().msg(2, container).str(3, "").msg(14, Msg::new().packed(4, &[1000, 2000])));
        let spec = Msg::new()
            .int(1, 0)
            .msg(2, Msg::new().entry(1, "app", "web"))
            .msg(3, template)
            .msg(
                4,
                Msg::new().str(1, "RollingUpdate").msg(
                    2,
                    Msg::new().msg(1, Msg::new().int(1, 0).int(2, 1)).msg(2, Msg::new().int(1, 1).str(3, "25%")),
                ),
            )
            .int(5, 0)
            .bool(7, false);
        let deployment = Msg::new().msg(1, meta("web").str(3, "default")).msg(2, spec).msg(3, Msg::new());
        assert_eq!(
            decode(&body("apps/v1", "Deployment", deployment)),
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "default"},
                // replicas is a pointer in Go: its zero is kept.
                "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                        "containers": [{"name": "web", "image": "nginx:1.27",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "MODE", "value": "prod"}],
                            "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}}}],
                        "securityContext": {"supplementalGroups": [1000, 2000]}}},
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}}},
                "status": {}
            })
        );
    }

    #[test]
    fn service_target_ports_and_ip_lists_keep_their_json_names() {
        let spec = Msg::new()
            .msg(
                1,
                Msg::new().str(1, "http").str(2, "TCP").int(3, 80).msg(4, Msg::new().int(1, 0).int(2, 8080)).int(5, 0),
            )
            .msg(1, Msg::new().str(1, "admin").int(3, 81).msg(4, Msg::new().int(1, 1).str(3, "admin")))
            .entry(2, "app", "web")
            .str(18, "10.0.0.1")
            .str(5, "192.0.2.7")
            .str(4, "ClusterIP");
        let service = Msg::new().msg(1, meta("web")).msg(2, spec);
        assert_eq!(
            decode(&body("v1", "Service", service))["spec"],
            json!({"ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                             {"name": "admin", "port": 81, "targetPort": "admin"}],
                   "selector": {"app": "web"}, "clusterIPs": ["10.0.0.1"], "externalIPs": ["192.0.2.7"],
                   "type": "ClusterIP"})
        );
    }

    #[test]
    fn secret_data_is_base64_and_configmap_data_is_text() {
        let secret =
            Msg::new().msg(1, meta("creds")).entry_bytes(2, "password", b"s3cr\xffet").str(3, "Opaque").bool(5, false);
        assert_eq!(
            decode(&body("v1", "Secret", secret)),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
                   "data": {"password": "czNjcv9ldA=="}, "type": "Opaque", "immutable": false})
        );
        let config = Msg::new().msg(1, meta("settings")).entry(2, "a.conf", "x=1\n").entry(2, "b", "");
        assert_eq!(
            decode(&body("v1", "ConfigMap", config)),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
                   "data": {"a.conf": "x=1\n", "b": ""}})
        );
    }

    #[test]
    fn embedded_go_structs_are_inlined_and_times_are_rfc3339() {
        // Volume{name, VolumeSource{configMap{LocalObjectReference{name}}}}.
        let volume =
            Msg::new().str(1, "conf").msg(2, Msg::new().msg(19, Msg::new().msg(1, Msg::new().str(1, "settings"))));
        let pod = Msg::new()
            .msg(1, meta("p").msg(8, Msg::new().int(1, 1_700_000_000)))
            .msg(2, Msg::new().msg(1, volume))
            .msg(3, Msg::new().msg(7, Msg::new().int(1, 1_700_000_001).int(2, 5)));
        let json = decode(&body("v1", "Pod", pod));
        assert_eq!(json["spec"]["volumes"], json!([{"name": "conf", "configMap": {"name": "settings"}}]));
        assert_eq!(json["metadata"]["creationTimestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(json["status"]["startTime"], "2023-11-14T22:13:21Z");
    }

    /// Bodies kubectl 1.32 sent to a listener (`kubectl create namespace x`, `create
    /// configmap cm --from-literal=a=b`, `create deployment web --image=nginx
    /// --port=80 --replicas=0`, `create secret generic s --from-literal=p=q`): the
    /// JSON is what `kubectl create ... --dry-run=client -o json` prints.
    #[test]
    fn bodies_real_kubectl_sent_read_as_its_json() {
        let fixture = |bytes: &[u8]| decode(bytes);
        assert_eq!(
            fixture(include_bytes!("testdata/kubectl-1.32-create-namespace.pb")),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}, "spec": {}, "status": {}})
        );
        assert_eq!(
            fixture(include_bytes!("testdata/kubectl-1.32-create-configmap.pb")),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"},
                   "data": {"a": "b"}})
        );
        assert_eq!(
            fixture(include_bytes!("testdata/kubectl-1.32-create-deployment.pb")),
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
                   "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}}, "strategy": {},
                            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                                {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}], "resources": {}}]}}},
                   "status": {}})
        );
        assert_eq!(
            fixture(include_bytes!("testdata/kubectl-1.32-create-secret.pb")),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
                   "data": {"p": "cQ=="}})
        );
    }

    /// More kubectl 1.32 bodies: `create service clusterip svc --tcp=80:8080
    /// --tcp=81:http`, `create role r --verb=get,list --resource=pods,deployments.apps
    /// --resource-name=x`, `create token sa --duration=10m --audience=a`, `create
    /// cronjob cj --image=busybox --schedule="*/1 * * * *" -- echo hi`.
    #[test]
    fn more_kubectl_bodies_read_as_its_json() {
        assert_eq!(
            decode(include_bytes!("testdata/kubectl-1.32-create-svc-clusterip.pb")),
            json!({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "svc", "namespace": "default", "labels": {"app": "svc"}},
                   "spec": {"ports": [{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080},
                                      {"name": "81-http", "port": 81, "protocol": "TCP", "targetPort": "http"}],
                            "selector": {"app": "svc"}, "type": "ClusterIP"},
                   "status": {"loadBalancer": {}}})
        );
        assert_eq!(
            decode(include_bytes!("testdata/kubectl-1.32-create-role.pb")),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                   "metadata": {"name": "r", "namespace": "default"},
                   // The core group is an empty string in a list: kept.
                   "rules": [{"apiGroups": [""], "resourceNames": ["x"], "resources": ["pods"], "verbs": ["get", "list"]},
                             {"apiGroups": ["apps"], "resourceNames": ["x"], "resources": ["deployments"],
                              "verbs": ["get", "list"]}]})
        );
        assert_eq!(
            decode(include_bytes!("testdata/kubectl-1.32-create-token.pb")),
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": {},
                   "spec": {"audiences": ["a"], "expirationSeconds": 600}, "status": {"token": ""}})
        );
        assert_eq!(
            decode(include_bytes!("testdata/kubectl-1.32-create-cronjob.pb")),
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj", "namespace": "default"},
                   "spec": {"schedule": "*/1 * * * *", "jobTemplate": {"metadata": {"name": "cj"}, "spec": {
                       "template": {"metadata": {}, "spec": {"restartPolicy": "OnFailure", "containers": [
                           {"name": "cj", "image": "busybox", "command": ["echo", "hi"], "resources": {}}]}}}}},
                   "status": {}})
        );
    }

    #[test]
    fn special_messages_read_as_kubernetes_writes_them() {
        let micro = Msg::new().int(1, 1_700_000_000).int(2, 123_456_000).0;
        assert_eq!(
            decode_special(table(), "meta.v1.MicroTime", &micro, 0).unwrap(),
            Some(json!("2023-11-14T22:13:20.123456Z"))
        );
        let duration = Msg::new().int(1, 90_000_000_000).0;
        assert_eq!(decode_special(table(), "meta.v1.Duration", &duration, 0).unwrap(), Some(json!("1m30s")));
        let raw = Msg::new().bytes(1, br#"{"a":[1]}"#).0;
        assert_eq!(decode_special(table(), "runtime.RawExtension", &raw, 0).unwrap(), Some(json!({"a": [1]})));
        let or_bool = Msg::new().bool(1, true).0;
        assert_eq!(
            decode_special(table(), "apiextensions.v1.JSONSchemaPropsOrBool", &or_bool, 0).unwrap(),
            Some(json!(true))
        );
        let or_schema = Msg::new().msg(2, Msg::new().str(5, "string")).0;
        assert_eq!(
            decode_special(table(), "apiextensions.v1.JSONSchemaPropsOrBool", &or_schema, 0).unwrap(),
            Some(json!({"type": "string"}))
        );
        let names = Msg::new().str(2, "a").str(2, "b").0;
        assert_eq!(
            decode_special(table(), "apiextensions.v1.JSONSchemaPropsOrStringArray", &names, 0).unwrap(),
            Some(json!(["a", "b"]))
        );
        let extra = Msg::new().str(1, "x").str(1, "y").0;
        assert_eq!(
            decode_special(table(), "authentication.v1.ExtraValue", &extra, 0).unwrap(),
            Some(json!(["x", "y"]))
        );
    }

    #[test]
    fn kinds_of_every_served_group_are_found_and_delete_options_is_everyones() {
        let table = table();
        for (api_version, kind) in [
            ("v1", "Pod"),
            ("apps/v1", "DaemonSet"),
            ("batch/v1", "CronJob"),
            ("coordination.k8s.io/v1", "Lease"),
            ("autoscaling/v1", "HorizontalPodAutoscaler"),
            ("autoscaling/v2", "HorizontalPodAutoscaler"),
            ("policy/v1", "PodDisruptionBudget"),
            ("policy/v1", "Eviction"),
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
            ("storage.k8s.io/v1", "CSIDriver"),
            ("networking.k8s.io/v1", "NetworkPolicy"),
            ("authentication.k8s.io/v1", "TokenRequest"),
            ("apps/v1", "DeleteOptions"),
        ] {
            assert!(table.message_for(api_version, kind).is_some(), "{api_version} {kind}");
        }
    }

    #[test]
    fn the_generated_table_reads_whole_and_every_nested_message_is_in_it() {
        let table = table();
        let field_lines = TABLE_TEXT.lines().filter(|l| l.starts_with(|c: char| c.is_ascii_digit())).count();
        let fields: usize = table.messages.values().map(HashMap::len).sum();
        assert_eq!(fields, field_lines, "every field line parses, no tag twice in a message");
        for (name, fields) in &table.messages {
            for field in fields.values().filter(|f| f.ty == Ty::Message) {
                assert!(table.messages.contains_key(&field.message), "{name}.{} -> {}", field.json, field.message);
            }
        }
    }

    #[test]
    fn bad_bodies_are_refused_naming_the_problem() {
        assert!(error(b"{\"kind\":\"Pod\"}").contains("magic"), "{}", error(b"{}"));
        assert!(error(&body("v1", "Gizmo", Msg::new())).contains("no protobuf message is known for kind \"Gizmo\""));
        let mismatch = body("v1", "Namespace", Msg::new().msg(1, Msg::new().int(1, 5)));
        assert!(error(&mismatch).contains("ObjectMeta.name has wire type 0"), "{}", error(&mismatch));
        let good = body("v1", "Namespace", Msg::new().msg(1, meta("x")));
        assert!(error(&good[..good.len() - 1]).contains("truncated"), "{}", error(&good[..good.len() - 1]));
        let mut bad_utf8 = Msg::new();
        bad_utf8 = bad_utf8.msg(1, Msg::new().bytes(1, b"\xff"));
        assert!(error(&body("v1", "Namespace", bad_utf8)).contains("UTF-8"));
        let err = to_json(b"nope").unwrap_err();
        assert_eq!(err.code(), 400);
    }

    #[test]
    fn random_and_damaged_bodies_give_errors_not_panics() {
        let good = body(
            "apps/v1",
            "Deployment",
            Msg::new()
                .msg(1, meta("web"))
                .msg(2, Msg::new().int(1, 3).msg(3, Msg::new().msg(2, Msg::new().msg(2, Msg::new().str(1, "c"))))),
        );
        for end in 0..good.len() {
            let _ = to_json(&good[..end]);
        }
        for i in MAGIC.len()..good.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut damaged = good.clone();
                damaged[i] ^= flip;
                let _ = to_json(&damaged);
            }
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let mut bytes = MAGIC.to_vec();
            for _ in 0..(state % 64) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                bytes.push(state as u8);
            }
            let _ = to_json(&bytes);
        }
        // Deep nesting (revisions embedding revisions) is refused, not a stack overflow.
        let mut deep = body("apps/v1", "ControllerRevision", Msg::new());
        for _ in 0..200 {
            deep = body("apps/v1", "ControllerRevision", Msg::new().msg(2, Msg::new().bytes(1, &deep)));
        }
        assert!(error(&deep).contains("nest deeper than"), "{}", error(&deep));
    }
}
