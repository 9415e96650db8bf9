//! The inbound ESL client (filled in next).
