//! STUB until the window branch lands.
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallingWindow {}
#[derive(Clone, Debug, PartialEq)]
pub enum Closed { Holiday(chrono::NaiveDate), OutsideHours { weekday: chrono::Weekday } }
impl CallingWindow {
    pub fn always() -> CallingWindow { CallingWindow {} }
    pub fn is_open(&self, _at: DateTime<Utc>, _tz: Tz) -> bool { true }
    pub fn next_opening(&self, at: DateTime<Utc>, _tz: Tz) -> Option<DateTime<Utc>> { Some(at) }
    pub fn closed_reason(&self, _at: DateTime<Utc>, _tz: Tz) -> Option<Closed> { None }
}
