//! `kubectl get`: tables per kind (several kinds in sections, `get all`), the
//! other output formats, and `--watch`.

use super::{fetch, Ctx, Found, Query};
use crate::cli::GetArgs;
use crate::error::{Error, Result};
use crate::printers::jsonpath::{self, Template};
use crate::printers::{self, OutputFormat, TableOptions, TablePrinter};
use crate::resource::{self, Selection};
use futures::StreamExt;
use jiff::Timestamp;
use serde_json::Value;

pub async fn run(ctx: &mut Ctx, a: GetArgs) -> Result<()> {
    let format = OutputFormat::parse(a.output.as_deref()).map_err(|e| Error::msg(e.to_string()))?;
    let found = if !a.filename.is_empty() {
        super::shared::fetch_manifest_objects(ctx, &a.filename, a.recursive).await?
    } else {
        if a.args.is_empty() {
            ctx.warn(
                "You must specify the type of resource to get. Use \"kubectl api-resources\" for a complete list of \
                 supported resources.\n",
            );
            return Err(Error::msg(
                "Required resource not specified.\nUse \"kubectl explain <resource>\" for a detailed description of \
                 that resource (e.g. kubectl explain pods).\nSee 'kubectl get -h' for help and examples",
            ));
        }
        let selections = resource::parse_args(&a.args)?;
        super::check_selection(&selections, a.selector.as_deref(), false)?;
        if a.watch || a.watch_only {
            return watch(ctx, &a, &selections, &format).await;
        }
        let query = Query {
            label_selector: a.selector.clone().unwrap_or_default(),
            field_selector: a.field_selector.clone().unwrap_or_default(),
            all_namespaces: a.all_namespaces,
        };
        let mut found = fetch(ctx, &selections, &query, a.ignore_not_found).await?;
        if let Some(spec) = &a.sort_by {
            let t =
                Template::parse_field(spec).map_err(|e| Error::msg(format!("error parsing jsonpath {spec}, {e}")))?;
            for f in &mut found {
                sort_objects(&mut f.objects, &t);
            }
        }
        let single = selections.len() == 1 && selections[0].names.len() == 1;
        let several_kinds = selections.len() > 1 || a.show_kind;
        return print_found(ctx, &a, &format, &found, single, several_kinds);
    };
    let single = found.iter().map(|f| f.objects.len()).sum::<usize>() == 1;
    let several_kinds = found.len() > 1 || a.show_kind;
    print_found(ctx, &a, &format, &found, single, several_kinds)
}

/// Sorts objects by a JSONPath field, missing values first.
pub fn sort_objects(objects: &mut [Value], by: &Template) {
    objects.sort_by(|x, y| {
        let (vx, vy) = (by.values(x), by.values(y));
        match (vx.first(), vy.first()) {
            (Some(a), Some(b)) => jsonpath::compare(a, b).unwrap_or(std::cmp::Ordering::Equal),
            (None, Some(_)) => std::cmp::Ordering::Less,
            (Some(_), None) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
    });
}

fn table_options(a: &GetArgs, format: &OutputFormat, with_kind: bool) -> TableOptions {
    TableOptions {
        wide: *format == OutputFormat::Wide,
        no_headers: a.no_headers,
        show_labels: a.show_labels,
        label_columns: a.label_columns.clone(),
        namespace_column: a.all_namespaces,
        with_kind,
    }
}

fn print_found(
    ctx: &mut Ctx,
    a: &GetArgs,
    format: &OutputFormat,
    found: &[Found],
    single: bool,
    several_kinds: bool,
) -> Result<()> {
    let total: usize = found.iter().map(|f| f.objects.len()).sum();
    let all: Vec<Value> = found.iter().flat_map(|f| f.objects.iter().cloned()).collect();
    if total == 0 {
        // Only the human-readable tables say so; the other formats print an
        // empty List (or nothing) unless every named object was missing.
        if format.is_table() && !ctx.failed && !a.ignore_not_found {
            let namespaced = found.iter().any(|f| f.info.namespaced);
            ctx.no_resources(namespaced, a.all_namespaces);
        }
        if format.is_table() || ctx.failed || matches!(format, OutputFormat::Name | OutputFormat::CustomColumns(_)) {
            return Ok(());
        }
    }
    let document = || {
        let mut doc = if single && total == 1 { all[0].clone() } else { printers::as_list(all.clone()) };
        if !a.show_managed_fields {
            hide_managed_fields(&mut doc);
        }
        doc
    };
    match format {
        OutputFormat::Table | OutputFormat::Wide => {
            let now = Timestamp::now();
            let mut first = true;
            for f in found.iter().filter(|f| !f.objects.is_empty()) {
                if !first && !a.no_headers {
                    ctx.print("\n");
                }
                first = false;
                // Each section aligns on its own, as kubectl resets widths per kind.
                let mut printer = TablePrinter::new(table_options(a, format, several_kinds));
                let text = printer.print(f.info, &f.objects, true, now);
                ctx.print(&text);
            }
        }
        OutputFormat::Yaml => ctx.print(&api::codec::to_yaml(&document())),
        OutputFormat::Json => ctx.println(api::codec::to_json(&document()).trim_end()),
        OutputFormat::JsonPath(t) => ctx.print(&t.render(&document())),
        OutputFormat::Name => {
            for f in found {
                for obj in &f.objects {
                    ctx.println(&printers::kind_name(f.info, api::meta::name(obj)));
                }
            }
        }
        OutputFormat::CustomColumns(cols) => ctx.print(&printers::custom_columns(cols, &all, a.no_headers)),
    }
    Ok(())
}

/// `get -w`: the current state (unless `--watch-only`), then a row per change.
async fn watch(ctx: &mut Ctx, a: &GetArgs, selections: &[Selection], format: &OutputFormat) -> Result<()> {
    let [sel] = selections else {
        return Err(Error::msg("you may only specify a single resource type"));
    };
    if sel.names.len() > 1 {
        return Err(Error::msg(
            "watch is only supported on individual resources and resource collections, but 2 resources were found",
        ));
    }
    let info = sel.info;
    let name = sel.names.first().cloned();
    let ns = if a.all_namespaces { String::new() } else { ctx.ns(info) };
    let client = ctx.client().await?;
    let params = client::ListParams {
        label_selector: a.selector.clone().unwrap_or_default(),
        field_selector: a.field_selector.clone().unwrap_or_default(),
        ..Default::default()
    };
    let (objects, rv) = match &name {
        Some(n) => {
            let obj = printers::with_type_meta(info, client.get(info, &ns, n).await?);
            let rv = api::meta::resource_version(&obj).to_string();
            (vec![obj], rv)
        }
        None => {
            let list = client.list(info, &ns, &params).await?;
            let rv = api::meta::resource_version(&list).to_string();
            (super::items(info, list), rv)
        }
    };
    let mut printer = TablePrinter::new(table_options(a, format, a.show_kind));
    let mut header_done = false;
    if !a.watch_only && !objects.is_empty() {
        print_watched(ctx, &mut printer, info, &objects, format, &mut header_done);
    }
    let mut stream = client.watch(info, &ns, &params, &rv).await?;
    while let Some(event) = stream.next().await {
        let event = event?;
        if event.kind == "BOOKMARK" {
            continue;
        }
        let obj = printers::with_type_meta(info, event.object);
        if name.as_deref().is_some_and(|n| n != api::meta::name(&obj)) {
            continue;
        }
        print_watched(ctx, &mut printer, info, &[obj], format, &mut header_done);
    }
    Ok(())
}

fn print_watched(
    ctx: &mut Ctx,
    printer: &mut TablePrinter,
    info: &'static api::ResourceInfo,
    objects: &[Value],
    format: &OutputFormat,
    header_done: &mut bool,
) {
    match format {
        OutputFormat::Table | OutputFormat::Wide => {
            let text = printer.print(info, objects, !*header_done, Timestamp::now());
            *header_done = true;
            ctx.print(&text);
        }
        OutputFormat::Yaml => {
            for obj in objects {
                ctx.print(&format!("---\n{}", api::codec::to_yaml(obj)));
            }
        }
        OutputFormat::Json => objects.iter().for_each(|o| ctx.println(api::codec::to_json(o).trim_end())),
        OutputFormat::JsonPath(t) => objects.iter().for_each(|o| ctx.print(&t.render(o))),
        OutputFormat::Name => objects.iter().for_each(|o| ctx.println(&printers::kind_name(info, api::meta::name(o)))),
        OutputFormat::CustomColumns(cols) => {
            let text = printers::custom_columns(cols, objects, *header_done);
            *header_done = true;
            ctx.print(&text);
        }
    }
}

/// Drops `metadata.managedFields` from an object or from each item of a
/// list, as kubectl prints YAML and JSON unless `--show-managed-fields`.
fn hide_managed_fields(doc: &mut Value) {
    if let Some(items) = doc.get_mut("items").and_then(Value::as_array_mut) {
        items.iter_mut().for_each(hide_managed_fields);
    }
    if let Some(meta) = doc.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sort_by_orders_numbers_and_strings() {
        let mut objs = vec![
            json!({"metadata": {"name": "b"}, "spec": {"replicas": 10}}),
            json!({"metadata": {"name": "a"}, "spec": {"replicas": 2}}),
            json!({"metadata": {"name": "c"}}),
        ];
        sort_objects(&mut objs, &Template::parse_field(".spec.replicas").unwrap());
        let names: Vec<&str> = objs.iter().map(api::meta::name).collect();
        assert_eq!(names, ["c", "a", "b"]);
        sort_objects(&mut objs, &Template::parse_field("{.metadata.name}").unwrap());
        let names: Vec<&str> = objs.iter().map(api::meta::name).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }
}
