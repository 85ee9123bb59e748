//! `move`, `add` and `remove`.

use super::config::{AddConfig, MoveConfig, RemoveConfig};
use super::{Entry, Operator};

/// `move`: takes `from` and sets `to`; a missing `from` is an error, as in stanza.
pub struct Move(pub MoveConfig);

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

/// `add`: sets `field` to a constant value.
pub struct Add(pub AddConfig);

impl Operator for Add {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        self.0.field.set(e, self.0.value.clone());
        Ok(())
    }
}

/// `remove`: deletes `field` (a missing field is an error, as in stanza).
pub struct Remove(pub RemoveConfig);

impl Operator for Remove {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        self.0
            .field
            .delete(e)
            .map(|_| ())
            .ok_or_else(|| format!("remove: field does not exist: {}", self.0.field))
    }
}
