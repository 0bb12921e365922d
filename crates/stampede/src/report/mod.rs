//! Reports: terminal tables, Locust's CSV and JSON files, and Stampede's JSON report.

pub mod console;
pub mod csv;
pub mod html;
pub mod json;
