//! sip-transport (in progress)
