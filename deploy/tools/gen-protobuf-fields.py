#!/usr/bin/env python3
"""Writes apiserver/src/http/protobuf_fields.txt: the field table the apiserver's
protobuf reader (apiserver/src/http/protobuf.rs) decodes Kubernetes objects with.

Where the facts come from:
  * field numbers, wire kinds and nested message types: the prost structs of the
    crates.io crate `k8s-pb` (in ~/.cargo/registry after `cargo fetch` of any
    project that names it, or `cargo download`);
  * JSON names: the serde field names of `k8s-openapi` (the OpenAPI v2 property
    names), matched per type, case-insensitively and without underscores, since
    k8s-pb's snake_case loses `volumeID`, `podIP`, `externalIPs`; for fields
    k8s-openapi's version lacks, the Go struct tag's name;
  * the Go types (--go-api/--go-apimachinery: checkouts of k8s.io/api and
    k8s.io/apimachinery, e.g. `git clone --depth 1 https://github.com/kubernetes/api`):
    which fields are non-pointer `omitempty` (Go always writes those to protobuf,
    zero or not, and leaves zero ones out of JSON; the reader does the same for
    fields marked `?`), and which are embedded structs whose fields JSON inlines.

Usage (from the repository root):
  deploy/tools/gen-protobuf-fields.py --go-api DIR --go-apimachinery DIR
      [--k8s-pb DIR] [--k8s-openapi DIR] [-o apiserver/src/http/protobuf_fields.txt]

Output format, one fact a line (see the header it writes).
"""

import argparse
import glob
import os
import re
import subprocess
import sys

# Not API groups an apiserver serves objects of, or alpha versions.
SKIP_MODULES = ("metrics", "apimachinery/pkg/apis/testapigroup", "api/admission/", "api/imagepolicy", "api/apidiscovery")
SKIP_VERSION = re.compile(r"/v\d+alpha\d+$")

ATTR = re.compile(r'#\[prost\((?P<body>[^\]]*)\)\]')
STRUCT = re.compile(r'^pub struct (\w+) \{')
FIELD = re.compile(r'^\s*pub (?:r#)?(\w+):\s*(.*)$')
TYPE_PATH = re.compile(r'((?:super::)*(?:[a-z_0-9]+::)*[A-Z]\w*)')
STD_TYPES = {"Option", "String", "Vec", "BTreeMap"}


def registry_dir(name):
    found = sorted(glob.glob(os.path.expanduser(f"~/.cargo/registry/src/*/{name}")))
    return found[-1] if found else None


def norm(name):
    return re.sub(r"[^a-z0-9]", "", name.lower())


def scalar_code(proto):
    return {"string": "s", "bytes": "y", "bool": "b", "int32": "i", "int64": "l", "double": "d", "message": "m"}[proto]


def parse_k8s_pb(src):
    """Returns {message path: [(tag, rust_name, code, nested message path or None)]}
    and {group: module path} from the Resource impls."""
    messages = {}
    groups = {}
    for path in sorted(glob.glob(os.path.join(src, "**", "mod.rs"), recursive=True)):
        module = os.path.relpath(os.path.dirname(path), src)
        if module == "." or module.startswith(SKIP_MODULES) or SKIP_VERSION.search(module):
            continue
        mod_parts = module.split(os.sep)
        lines = open(path, encoding="utf-8").read().split("\n")
        current = None
        i = 0
        while i < len(lines):
            line = lines[i]
            m = STRUCT.match(line)
            if m:
                current = ".".join(mod_parts + [m.group(1)])
                messages[current] = []
            m = re.match(r'^impl crate::Resource for (\w+)', line)
            if m:
                version = re.search(r'"(.*)"', lines[i + 1]).group(1)
                group = version.split("/")[0] if "/" in version else ""
                groups[group] = ".".join(mod_parts[:-1])
            m = ATTR.search(line)
            if m and current is not None and "tag =" in m.group(1):
                body = m.group(1)
                tag = int(re.search(r'tag = "(\d+)"', body).group(1))
                # The field's declaration may wrap over lines: read to the
                # comma that closes it.
                decl = ""
                j = i + 1
                while True:
                    decl += lines[j].strip()
                    if decl.endswith(",") and decl.count("<") == decl.count(">"):
                        break
                    j += 1
                fm = FIELD.match(decl)
                rust_name = fm.group(1)
                ty = fm.group(2)
                nested = None
                kind = body.split(",")[0].strip()
                if kind.startswith("btree_map"):
                    value = re.search(r'btree_map = "string, (\w+)"', body).group(1)
                    code = "M" + scalar_code(value)
                else:
                    code = scalar_code(kind.split(" ")[0])
                    if ", repeated" in body:
                        code = "*" + code
                if code.endswith("m"):
                    names = [p for p in TYPE_PATH.findall(ty) if p.split("::")[-1] not in STD_TYPES]
                    nested = resolve(mod_parts, names[-1])
                messages[current].append((tag, rust_name, code, nested))
                i = j
            i += 1
    return messages, groups


def short_name(path):
    """The table's name of a message: the API groups' without `api.`, apimachinery's
    without `apimachinery.pkg.` (`meta.v1.Time`, `util.intstr.IntOrString`)."""
    for prefix in ("api.", "apimachinery.pkg.apis.", "apimachinery.pkg.", "apiextensions_apiserver.pkg.apis.",
                   "kube_aggregator.pkg.apis."):
        if path.startswith(prefix):
            return path[len(prefix):]
    return path


def resolve(mod_parts, rust_path):
    parts = rust_path.split("::")
    base = list(mod_parts)
    while parts and parts[0] == "super":
        base.pop()
        parts.pop(0)
    return ".".join(base + parts)


def parse_openapi(src):
    """Returns {(module path, normalized type name): {normalized field: json name}}."""
    types = {}
    for path in glob.glob(os.path.join(src, "**", "*.rs"), recursive=True):
        text = open(path, encoding="utf-8").read()
        m = re.search(r'"io\.k8s\.([\w.-]+)\.(\w+)"\.into\(\)', text)
        if not m:
            continue
        module = m.group(1).replace("-", "_")
        fields = {}
        for json in re.findall(r'^\s*"([^"]+)" => Field::Key_', text, re.M):
            fields[norm(json)] = json
        types[(module, norm(m.group(2)))] = fields
        types[(module, norm(m.group(2)), "name")] = m.group(2)
    return types


GO_FIELD = re.compile(r"^\s*(\w+)(?:\s+(\S+))?\s+`([^`]*)`")


def parse_go(root, prefix):
    """Returns {(module path, normalized struct, tag): (omitempty, pointer, inline,
    json name)} for the Go structs' protobuf fields."""
    info = {}
    for path in glob.glob(os.path.join(root, "**", "*.go"), recursive=True):
        if path.endswith("_test.go") or "generated" in os.path.basename(path):
            continue
        module = prefix + "." + os.path.relpath(os.path.dirname(path), root).replace(os.sep, ".")
        struct = None
        for line in open(path, encoding="utf-8"):
            m = re.match(r'^type (\w+) struct \{', line)
            if m:
                struct = norm(m.group(1))
                continue
            if line.startswith("}"):
                struct = None
                continue
            m = GO_FIELD.match(line)
            if struct and m:
                tags = m.group(3)
                pm = re.search(r'protobuf:"\w+,(\d+),', tags)
                jm = re.search(r'json:"([^"]*)"', tags)
                if not pm or not jm:
                    continue
                ty = m.group(2) or m.group(1)
                opts = jm.group(1).split(",")[1:]
                # An embedded struct without a JSON name of its own: its fields are
                # the parent's in JSON.
                inline = m.group(2) is None and jm.group(1).split(",")[0] == ""
                info[(module, struct, int(pm.group(1)))] = (
                    "omitempty" in opts,
                    ty.startswith("*"),
                    inline,
                    jm.group(1).split(",")[0],
                )
    return info


def git_version(path):
    """The checkout's commit and date, or `(version unknown)` outside git."""
    try:
        out = subprocess.run(
            ["git", "-C", path, "log", "-1", "--format=%h (%cs)"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "(version unknown)"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k8s-pb", default=None)
    ap.add_argument("--k8s-openapi", default=None)
    ap.add_argument("--go-api", required=True, help="a checkout of k8s.io/api")
    ap.add_argument("--go-apimachinery", required=True, help="a checkout of k8s.io/apimachinery")
    ap.add_argument("-o", "--output", default="apiserver/src/http/protobuf_fields.txt")
    args = ap.parse_args()
    pb = args.k8s_pb or os.path.join(registry_dir("k8s-pb-0.9.0") or "", "src")
    oa = args.k8s_openapi or os.path.join(registry_dir("k8s-openapi-0.29.0") or "", "src", "v1_34")
    if not os.path.isdir(pb) or not os.path.isdir(oa):
        sys.exit(f"k8s-pb ({pb}) or k8s-openapi ({oa}) source not found; pass --k8s-pb/--k8s-openapi")

    messages, groups = parse_k8s_pb(pb)
    openapi = parse_openapi(oa)
    go = parse_go(args.go_api, "api")
    go.update(parse_go(args.go_apimachinery, "apimachinery"))
    # Versions neither source has a type for (betas k8s-openapi and Go dropped,
    # apiextensions, kube-aggregator): the name the field has in other types.
    global_names = {}
    for fields in (v for k, v in openapi.items() if len(k) == 2):
        for k, v in fields.items():
            global_names.setdefault(k, v)

    # prost renames acronyms (`CsiDriver`); the table keeps Kubernetes' names
    # (`CSIDriver`), which are the kinds clients send.
    def k8s_name(path):
        module, _, short = path.rpartition(".")
        return short_name(f"{module}.{openapi.get((module, norm(short), 'name'), short)}")

    unresolved = []
    mismatched = []
    omit_zero = 0
    out = []
    for name in sorted(messages):
        module, _, short = name.rpartition(".")
        own = openapi.get((module, norm(short)), {})
        out.append(f"@{k8s_name(name)}")
        for tag, rust_name, code, nested in messages[name]:
            key = norm(rust_name)
            g = go.get((module, norm(short), tag))
            go_json = g[3] if g and g[3] not in ("", "-") else None
            json = own.get(key) or go_json or global_names.get(key)
            if json is None and not (g and g[2]):
                # Neither source knows the field: camelCase, and say so.
                head, *rest = rust_name.split("_")
                json = head + "".join(p.title() for p in rest)
                unresolved.append(f"{name}.{rust_name} -> {json}")
            elif go_json and json != go_json:
                mismatched.append(f"{name}.{rust_name}: openapi {json}, Go {go_json}")
            flags = ""
            if g and code in ("s", "b", "i", "l", "d"):
                omitempty, pointer, _, _ = g
                if omitempty and not pointer:
                    flags = "?"
                    omit_zero += 1
            if g and g[2] and code == "m":
                flags = "~"
                json = "-"
            line = f"{tag} {json} {code}{flags}"
            if nested:
                nmod, _, nshort = nested.rpartition(".")
                full = k8s_name(nested)
                line += " " + (full.rpartition(".")[2] if nmod == module else full)
            out.append(line)

    header = [
        "# Generated by deploy/tools/gen-protobuf-fields.py from k8s-pb 0.9 (field numbers),",
        "# k8s-openapi 0.29 v1_34 (JSON names) and the Go types of k8s.io/api "
        + git_version(args.go_api)
        + " and k8s.io/apimachinery "
        + git_version(args.go_apimachinery)
        + ".",
        "# Regenerate: deploy/tools/gen-protobuf-fields.py --go-api <k8s.io/api checkout>",
        "#   --go-apimachinery <k8s.io/apimachinery checkout>. Do not edit by hand.",
        "# `= group module`: the messages of an API group live under module.<version>.",
        "# `@message`, then its fields: `tag jsonName type [message]`; type is s string,",
        "# y bytes, b bool, i int32, l int64, d double, m message; `*` repeated, `M` a map",
        "# from string to the type; `?` a Go non-pointer omitempty field (zero left out);",
        "# `~` (JSON name `-`) an embedded Go struct, whose fields are the parent's in JSON.",
        "# A message name without dots is in the package of the message that names it.",
    ]
    group_lines = [f"= {g or '-'} {short_name(m)}" for g, m in sorted(groups.items())]
    with open(args.output, "w", encoding="utf-8") as f:
        f.write("\n".join(header + group_lines + out) + "\n")
    print(
        f"{len(messages)} messages, {sum(len(v) for v in messages.values())} fields, "
        f"{omit_zero} omit-zero, {len(unresolved)} JSON names guessed, "
        f"{len(mismatched)} where k8s-openapi and Go disagree -> {args.output}",
        file=sys.stderr,
    )
    for u in unresolved:
        print(f"  guessed: {u}", file=sys.stderr)
    for m in mismatched:
        print(f"  disagree: {m}", file=sys.stderr)


if __name__ == "__main__":
    main()
