//! The set of sessions listening for events, shared by the ESL and AMI buses.

use std::sync::{Arc, RwLock, RwLockReadGuard};

/// Something registered under an id.
pub trait Registered {
    fn id(&self) -> u64;
}

#[derive(Debug)]
pub struct Registry<T> {
    items: RwLock<Vec<Arc<T>>>,
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Registry {
            items: RwLock::new(Vec::new()),
        }
    }
}

impl<T: Registered> Registry<T> {
    /// The listeners; a poisoned lock still holds a valid list.
    pub fn read(&self) -> RwLockReadGuard<'_, Vec<Arc<T>>> {
        self.items
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn add(&self, item: Arc<T>) {
        self.items
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(item);
    }

    pub fn remove(&self, id: u64) {
        self.items
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain(|l| l.id() != id);
    }
}
