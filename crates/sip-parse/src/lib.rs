//! sip-parse (in progress)
