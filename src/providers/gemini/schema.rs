//! JSON Schema (what OpenAI clients send as tool `parameters` and `json_schema`) into the
//! OpenAPI subset Gemini's `Schema` accepts, as LiteLLM's `_build_vertex_schema` does it:
//! `$ref`s into `$defs` are inlined, keywords Gemini rejects (`additionalProperties`,
//! `$schema`, `$id`, `title`, `strict`, ...) are dropped, `anyOf: [.., {"type": "null"}]`
//! and `type: [.., "null"]` become `nullable: true`, and a node with `properties` but no
//! `type` gets `type: object`.

use serde_json::{json, Map, Value};

/// Keywords Gemini's Schema rejects. `title` goes too: pydantic puts one on every field and
/// Vertex refuses them.
const DROPPED: &[&str] = &[
    "$schema",
    "$id",
    "$defs",
    "$comment",
    "definitions",
    "additionalProperties",
    "strict",
    "title",
];

/// How deep `$ref`s are followed; recursive schemas (which Gemini cannot express) are cut off
/// there as a plain object.
const MAX_DEPTH: usize = 32;

/// How many schema nodes one conversion may produce: definitions that each use another
/// several times would otherwise inline to an exponential size.
const MAX_NODES: usize = 10_000;

/// The schema as Gemini takes it.
pub(super) fn for_gemini(schema: &Value) -> Value {
    let defs = schema
        .get("$defs")
        .or_else(|| schema.get("definitions"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut budget = MAX_NODES;
    convert(schema, &defs, 0, &mut budget)
}

fn convert(node: &Value, defs: &Map<String, Value>, depth: usize, budget: &mut usize) -> Value {
    let Some(map) = node.as_object() else {
        return node.clone();
    };
    if depth > MAX_DEPTH || *budget == 0 {
        return json!({"type": "object"});
    }
    *budget -= 1;
    if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
        let name = reference
            .strip_prefix("#/$defs/")
            .or_else(|| reference.strip_prefix("#/definitions/"));
        let mut resolved = match name.and_then(|n| defs.get(n)) {
            Some(target) => convert(target, defs, depth + 1, budget),
            None => json!({"type": "object"}),
        };
        // A description next to the `$ref` describes this use of it; keep it.
        if let (Some(description), Some(out)) = (map.get("description"), resolved.as_object_mut()) {
            out.insert("description".into(), description.clone());
        }
        return resolved;
    }
    let mut out = Map::new();
    for (key, value) in map {
        if DROPPED.contains(&key.as_str()) {
            continue;
        }
        let converted = match key.as_str() {
            "properties" => match value.as_object() {
                Some(props) => Value::Object(
                    props
                        .iter()
                        .map(|(name, prop)| (name.clone(), convert(prop, defs, depth + 1, budget)))
                        .collect(),
                ),
                None => value.clone(),
            },
            "items" => convert(value, defs, depth + 1, budget),
            "anyOf" | "oneOf" | "allOf" => match value.as_array() {
                Some(list) => Value::Array(
                    list.iter()
                        .map(|item| convert(item, defs, depth + 1, budget))
                        .collect(),
                ),
                None => value.clone(),
            },
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    nullable_any_of(&mut out);
    nullable_type_list(&mut out);
    if out.contains_key("properties") && !out.contains_key("type") {
        out.insert("type".into(), json!("object"));
    }
    Value::Object(out)
}

/// `anyOf: [A, {"type": "null"}]` → `anyOf: [A + nullable]`.
fn nullable_any_of(node: &mut Map<String, Value>) {
    let Some(Value::Array(options)) = node.get_mut("anyOf") else {
        return;
    };
    let before = options.len();
    options.retain(|o| o != &json!({"type": "null"}));
    if options.len() == before || options.is_empty() {
        return;
    }
    for option in options.iter_mut() {
        if let Some(option) = option.as_object_mut() {
            option.insert("nullable".into(), json!(true));
        }
    }
}

/// `type: ["string", "null"]` → `type: "string", nullable: true`: Gemini's `type` is one enum.
fn nullable_type_list(node: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = node.get("type") else {
        return;
    };
    let nullable = types.iter().any(|t| t == "null");
    let rest: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
    if let [only] = rest.as_slice() {
        let only = only.clone();
        node.insert("type".into(), only);
        if nullable {
            node.insert("nullable".into(), json!(true));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_rejected_keywords_but_not_properties_named_like_them() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "title": "Args",
            "additionalProperties": false,
            "properties": {
                "title": {"type": "string", "title": "Title"},
                "tags": {"type": "array", "items": {"type": "string", "additionalProperties": false}}
            },
            "required": ["title"]
        });
        assert_eq!(
            for_gemini(&schema),
            json!({
                "type": "object",
                "properties": {
                    "title": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}}
                },
                "required": ["title"]
            })
        );
    }

    #[test]
    fn inlines_refs_and_marks_nullables() {
        let schema = json!({
            "$defs": {"Unit": {"type": "string", "enum": ["c", "f"], "title": "Unit"}},
            "properties": {
                "unit": {"$ref": "#/$defs/Unit", "description": "temperature unit"},
                "city": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "days": {"type": ["integer", "null"]}
            }
        });
        assert_eq!(
            for_gemini(&schema),
            json!({
                "type": "object",
                "properties": {
                    "unit": {"type": "string", "enum": ["c", "f"], "description": "temperature unit"},
                    "city": {"anyOf": [{"type": "string", "nullable": true}]},
                    "days": {"type": "integer", "nullable": true}
                }
            })
        );
    }

    #[test]
    fn recursive_and_dangling_refs_end_as_plain_objects() {
        let schema = json!({
            "$defs": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}}},
            "properties": {"root": {"$ref": "#/$defs/Node"}, "other": {"$ref": "#"}}
        });
        let out = for_gemini(&schema);
        assert_eq!(out["properties"]["other"], json!({"type": "object"}));
        let mut node = &out["properties"]["root"];
        let mut depth = 0;
        while let Some(child) = node.pointer("/properties/child") {
            node = child;
            depth += 1;
        }
        assert!(depth <= MAX_DEPTH + 1);
        assert_eq!(for_gemini(&json!("x")), json!("x"));
    }

    #[test]
    fn definitions_that_fan_out_stay_bounded() {
        let mut defs = Map::new();
        for level in 0..40 {
            let next = format!("#/$defs/D{}", level + 1);
            defs.insert(
                format!("D{level}"),
                json!({"properties": {"a": {"$ref": next}, "b": {"$ref": next}}}),
            );
        }
        let schema = json!({"$defs": defs, "properties": {"root": {"$ref": "#/$defs/D0"}}});
        let out = for_gemini(&schema);
        assert!(out.to_string().len() < 10 * MAX_NODES * 40);
    }
}
