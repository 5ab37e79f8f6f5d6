//! Provisioning profiles (placeholder until the crate lands).
