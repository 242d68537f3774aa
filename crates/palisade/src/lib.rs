//! What the binary adds to the server, as a library so the tests start the same server
//! the binary does: palisade-server serves SMTP and delivers, and knows neither the web
//! console nor the audits; [`addons::Addons`] brings them (palisade-web's console and
//! ACME HTTP-01 listener, palisade-audit's doctor) through `palisade_server::Addons`.

pub mod addons;
mod console_views;
pub mod doctor;
