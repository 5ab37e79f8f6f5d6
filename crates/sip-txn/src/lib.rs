//! sip-txn (in progress)
