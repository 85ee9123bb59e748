//! The field transformers: `move`, `copy`, `add`, `remove`, `flatten`, `retain`,
//! `assign_keys`, and `scope_name_parser`.

use super::config::{AddConfig, AssignKeysConfig, FromTo};
use super::expr::Expr;
use super::field::{Field, Root};
use super::{kind, Entry, Operator};
use serde_json::{Map, Value};

/// `move`: takes `from` and sets `to`; a missing `from` is an error, as in stanza.
pub struct Move(pub FromTo);

impl Operator for Move {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        let v = self
            .0
            .from
            .delete(e)
            .ok_or_else(|| format!("move: field does not exist: {}", self.0.from))?;
        self.0.to.set(e, v);
        Ok(())
    }
}

/// `copy`: sets `to` to the value of `from`, which stays.
pub struct Copy(pub FromTo);

impl Operator for Copy {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        let v = self
            .0
            .from
            .get(e)
            .cloned()
            .ok_or_else(|| format!("copy: from field does not exist: {}", self.0.from))?;
        self.0.to.set(e, v);
        Ok(())
    }
}

/// `add`: sets `field` to a constant value, or to the value of an expression written
/// `EXPR(...)` (see [`super::expr`]), evaluated per entry.
pub struct Add {
    field: Field,
    value: AddValue,
}

enum AddValue {
    Constant(Value),
    Expr(Expr),
}

impl Add {
    pub fn new(c: &AddConfig) -> Result<Add, String> {
        let expr = c
            .value
            .as_str()
            .and_then(|s| s.strip_prefix("EXPR(")?.strip_suffix(')'));
        let value = match expr {
            Some(source) => AddValue::Expr(Expr::compile_value(source)?),
            None => AddValue::Constant(c.value.clone()),
        };
        Ok(Add {
            field: c.field.clone(),
            value,
        })
    }
}

impl Operator for Add {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        let v = match &self.value {
            AddValue::Constant(v) => v.clone(),
            AddValue::Expr(x) => x
                .value(e)
                .map_err(|err| format!("evaluate value_expr: {err}"))?,
        };
        self.field.set(e, v);
        Ok(())
    }
}

/// `remove`: deletes `field`; `attributes` or `resource` alone empties the map (a missing
/// field is an error, as in stanza).
pub struct Remove(pub Field);

impl Operator for Remove {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        let f = &self.0;
        match (f.root, f.keys.is_empty()) {
            (Root::Attributes, true) => e.attributes.clear(),
            (Root::Resource, true) => e.resource.clear(),
            _ => {
                f.delete(e)
                    .ok_or_else(|| format!("remove: field does not exist: {f}"))?;
            }
        }
        Ok(())
    }
}

/// `flatten`: the map at `field` is replaced by its children, one level up.
pub struct Flatten {
    field: Field,
    parent: Field,
}

impl Flatten {
    pub fn new(field: &Field) -> Result<Flatten, String> {
        let Some((_, parent_keys)) = field.keys.split_last() else {
            return Err(format!(
                "invalid field type: {field} has no parent to flatten into"
            ));
        };
        Ok(Flatten {
            field: field.clone(),
            parent: Field {
                root: field.root,
                keys: parent_keys.to_vec(),
            },
        })
    }
}

impl Operator for Flatten {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        match self.field.get(e) {
            Some(Value::Object(_)) => {}
            Some(other) => {
                return Err(format!(
                    "apply flatten: field {} is not a map but {}",
                    self.field,
                    kind(other)
                ))
            }
            None => {
                return Err(format!(
                    "apply flatten: field {} does not exist",
                    self.field
                ))
            }
        }
        let Some(Value::Object(children)) = self.field.delete(e) else {
            return Ok(());
        };
        for (k, v) in children {
            let mut child = self.parent.clone();
            child.keys.push(k);
            child.set(e, v);
        }
        Ok(())
    }
}

/// `retain`: keeps only the listed fields of each part (body, attributes, resource) that
/// any field names; a part no field names is kept whole.
pub struct Retain {
    fields: Vec<Field>,
}

impl Retain {
    pub fn new(fields: &[Field]) -> Retain {
        Retain {
            fields: fields.to_vec(),
        }
    }
}

impl Operator for Retain {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        let mut kept = Entry {
            body: Value::Object(Map::new()),
            ..Entry::default()
        };
        let mut named = [false; 3];
        for f in &self.fields {
            named[f.root as usize] = true;
            if let Some(v) = f.get(e) {
                f.set(&mut kept, v.clone());
            }
        }
        if named[Root::Body as usize] {
            e.body = kept.body;
        }
        if named[Root::Attributes as usize] {
            e.attributes = kept.attributes;
        }
        if named[Root::Resource as usize] {
            e.resource = kept.resource;
        }
        Ok(())
    }
}

/// `assign_keys`: the list at `field` becomes a map, its values under `keys` in order.
pub struct AssignKeys(AssignKeysConfig);

impl AssignKeys {
    pub fn new(c: &AssignKeysConfig) -> Result<AssignKeys, String> {
        if c.keys.is_empty() {
            return Err("assign_keys missing required field keys".into());
        }
        Ok(AssignKeys(c.clone()))
    }
}

impl Operator for AssignKeys {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        let (field, keys) = (&self.0.field, &self.0.keys);
        let values = match field.get(e) {
            Some(Value::Array(values)) => values,
            Some(_) => {
                return Err(format!(
                    "apply assign_keys: couldn't convert field {field} to []any"
                ))
            }
            None => {
                return Err(format!(
                    "apply assign_keys: field {field} does not exist on entry"
                ))
            }
        };
        if values.len() != keys.len() {
            return Err(format!(
                "apply assign_keys: field {field} contains {} values while expected keys are [{}] contain {} keys",
                values.len(),
                keys.join(" "),
                keys.len()
            ));
        }
        let map: Map<String, Value> = keys.iter().cloned().zip(values.iter().cloned()).collect();
        field.set(e, Value::Object(map));
        Ok(())
    }
}

/// `scope_name_parser`: the entry's scope name from a field.
pub struct ScopeName(pub Field);

impl Operator for ScopeName {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        super::parser::set_scope_name(&self.0, e)
    }
}
