//! The developer message's `# Tools` section: JSON-schema tool parameters
//! written as the TypeScript-like declarations gpt-oss was trained on
//! (optional `?`, `// default:` comments, enums as unions of literals, nested
//! objects, arrays, `oneOf` unions, descriptions as `//` comments). The output
//! matches openai-harmony's renderer character for character.

use serde_json::Value;

use super::conversation::ToolDescription;

/// The `# Tools` section declaring `tools` in namespace `functions`.
pub fn tools_section(tools: &[ToolDescription]) -> String {
    let mut lines: Vec<String> = vec!["## functions\n".to_string()];
    lines.push("namespace functions {\n".to_string());
    for tool in tools {
        lines.extend(tool.description.lines().map(|l| format!("// {l}")));
        if tool.parameters.is_null() {
            lines.push(format!("type {} = () => any;\n", tool.name));
        } else {
            let ty = schema_to_typescript(&tool.parameters, "");
            lines.push(format!("type {} = (_: {ty}) => any;\n", tool.name));
        }
    }
    lines.push("} // namespace functions".to_string());
    format!("# Tools\n\n{}", lines.join("\n"))
}

/// The TypeScript type of a JSON schema, nested lines indented by `indent`.
pub fn schema_to_typescript(schema: &Value, indent: &str) -> String {
    if let Some(variants) = schema.get("oneOf").and_then(Value::as_array) {
        return one_of_union(variants, indent);
    }
    if let Some(types) = schema.get("type").and_then(Value::as_array) {
        let names: Vec<&str> = types
            .iter()
            .filter_map(Value::as_str)
            .map(|t| if t == "integer" { "number" } else { t })
            .collect();
        if !names.is_empty() {
            return names.join(" | ");
        }
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => object_type(schema, indent),
        Some("string") => {
            let literals: Vec<String> = schema
                .get("enum")
                .and_then(Value::as_array)
                .map(|values| {
                    values
                        .iter()
                        .filter_map(Value::as_str)
                        .map(|s| format!("\"{s}\""))
                        .collect()
                })
                .unwrap_or_default();
            if literals.is_empty() {
                "string".to_string()
            } else {
                literals.join(" | ")
            }
        }
        Some("number" | "integer") => "number".to_string(),
        Some("boolean") => "boolean".to_string(),
        Some("array") => match schema.get("items") {
            Some(items) => format!("{}[]", schema_to_typescript(items, indent)),
            None => "Array<any>".to_string(),
        },
        _ => "any".to_string(),
    }
}

/// A top-level `oneOf`: one `| variant` line per variant.
fn one_of_union(variants: &[Value], indent: &str) -> String {
    let mut out = String::new();
    for variant in variants {
        out.push_str(&format!("\n{indent} | "));
        out.push_str(&variant_type(variant, indent));
        let mut comments: Vec<String> = Vec::new();
        if let Some(desc) = str_field(variant, "description") {
            comments.push(desc.to_string());
        }
        if let Some(default) = variant.get("default") {
            comments.push(match default.as_str() {
                Some(s) if !is_enum(variant) => format!("default: \"{s}\""),
                _ => format!("default: {default}"),
            });
        }
        if !comments.is_empty() {
            out.push_str(&format!(" // {}", comments.join(" ")));
        }
    }
    out
}

/// A union variant's type, with `| null` added for `nullable`.
fn variant_type(variant: &Value, indent: &str) -> String {
    with_nullable(
        variant,
        schema_to_typescript(variant, &format!("{indent}   ")),
    )
}

fn with_nullable(schema: &Value, ty: String) -> String {
    let nullable = schema
        .get("nullable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if nullable && !ty.contains("null") {
        format!("{ty} | null")
    } else {
        ty
    }
}

/// An object type: `{`, one line per property, `}`.
fn object_type(schema: &Value, indent: &str) -> String {
    let mut out = String::new();
    if let Some(desc) = str_field(schema, "description") {
        out.push_str(&format!("{indent}// {desc}\n"));
    }
    out.push_str("{\n");
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for (key, prop) in props {
            let optional = if required.contains(&key.as_str()) {
                ""
            } else {
                "?"
            };
            property(&mut out, key, optional, prop, indent);
        }
    }
    out.push_str(&format!("{indent}}}"));
    out
}

/// One property line of an object, with its comments above.
fn property(out: &mut String, key: &str, optional: &str, prop: &Value, indent: &str) {
    if let Some(title) = str_field(prop, "title") {
        out.push_str(&format!("{indent}// {title}\n{indent}//\n"));
    }
    let one_of = prop.get("oneOf");
    if one_of.is_none() {
        if let Some(desc) = str_field(prop, "description") {
            out.push_str(&format!("{indent}// {desc}\n"));
        }
    }
    if let Some(examples) = prop.get("examples").and_then(Value::as_array) {
        if !examples.is_empty() {
            out.push_str(&format!("{indent}// Examples:\n"));
            for example in examples.iter().filter_map(Value::as_str) {
                out.push_str(&format!("{indent}// - \"{example}\"\n"));
            }
        }
    }
    if let Some(variants) = one_of.and_then(Value::as_array) {
        one_of_property(out, key, optional, prop, variants, indent);
        return;
    }
    let ty = with_nullable(prop, schema_to_typescript(prop, &format!("{indent}    ")));
    out.push_str(&format!("{indent}{key}{optional}: {ty},"));
    if one_of.is_none() {
        if let Some(default) = prop.get("default") {
            out.push_str(&format!(" // default: {}", default_text(prop, default)));
        }
    }
    out.push('\n');
}

/// A property whose schema is a `oneOf`: comments, `key:`, then one line per variant.
fn one_of_property(
    out: &mut String,
    key: &str,
    optional: &str,
    prop: &Value,
    variants: &[Value],
    indent: &str,
) {
    let prop_desc = str_field(prop, "description");
    let first_variant_desc = variants.first().and_then(|v| str_field(v, "description"));
    let desc_above = match prop_desc {
        Some(desc) if first_variant_desc != Some(desc) => {
            out.push_str(&format!("{indent}// {desc}\n"));
            true
        }
        _ => false,
    };
    if let Some(default) = prop.get("default") {
        out.push_str(&format!(
            "{indent}// default: {}\n",
            default_text(prop, default)
        ));
    }
    out.push_str(&format!("{indent}{key}{optional}:\n"));
    for (i, variant) in variants.iter().enumerate() {
        out.push_str(&format!("{indent} | "));
        out.push_str(&variant_type(variant, indent));
        let mut comments: Vec<String> = Vec::new();
        if !(i == 0 && desc_above) {
            if let Some(desc) = str_field(variant, "description") {
                if Some(desc) != prop_desc {
                    comments.push(desc.to_string());
                }
            }
        }
        if let Some(default) = variant.get("default") {
            comments.push(format!("default: {}", default_text(variant, default)));
        }
        if !comments.is_empty() {
            out.push_str(&format!(" // {}", comments.join(" ")));
        }
        out.push('\n');
    }
    out.push_str(&format!("{indent},\n"));
}

/// A default value as written after `default: `: a string quoted unless the
/// schema is an enum (then bare), anything else as compact JSON.
fn default_text(schema: &Value, default: &Value) -> String {
    match default.as_str() {
        Some(s) if is_enum(schema) => s.to_string(),
        Some(s) => format!("\"{s}\""),
        None => default.to_string(),
    }
}

fn is_enum(schema: &Value) -> bool {
    schema
        .get("enum")
        .and_then(Value::as_array)
        .is_some_and(|values| !values.is_empty())
}

fn str_field<'a>(schema: &'a Value, field: &str) -> Option<&'a str> {
    schema.get(field).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_notes_bash_tool() {
        let bash = ToolDescription::new(
            "bash",
            "Run a bash command.",
            json!({
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "The command"},
                    "timeout_ms": {"type": "number", "default": 10000}
                },
                "required": ["command"]
            }),
        );
        assert_eq!(
            tools_section(&[bash]),
            "# Tools\n\n## functions\n\nnamespace functions {\n\n// Run a bash command.\n\
             type bash = (_: {\n// The command\ncommand: string,\ntimeout_ms?: number, // default: 10000\n\
             }) => any;\n\n} // namespace functions"
        );
    }

    #[test]
    fn enums_arrays_nested_and_no_arguments() {
        let schema = json!({
            "type": "object",
            "properties": {
                "unit": {"type": "string", "enum": ["c", "f"], "default": "c"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "any": {"type": "array"},
                "opts": {"type": "object", "properties": {"deep": {"type": "boolean"}}, "required": ["deep"]},
                "n": {"type": ["integer", "null"]}
            }
        });
        assert_eq!(
            schema_to_typescript(&schema, ""),
            "{\nunit?: \"c\" | \"f\", // default: c\ntags?: string[],\nany?: Array<any>,\n\
             opts?: {\n    deep: boolean,\n    },\nn?: number | null,\n}"
        );
        let none = ToolDescription::new("now", "", Value::Null);
        assert!(tools_section(&[none]).contains("\ntype now = () => any;\n"));
    }
}
