//! Fuzz `provisioning::parse_bytes`: never panics, every error is placed inside the input, and
//! every profile that parses survives a round trip through `to_xml` unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provisioning::Profile;

fuzz_target!(|data: &[u8]| {
    match provisioning::parse_bytes(data) {
        Ok(profile) => {
            let xml = profile.to_xml();
            let again = Profile::from_xml(&xml).expect("serialized profile must parse");
            assert_eq!(again, profile, "round trip changed the profile:\n{xml}");
        }
        Err(e) => {
            let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
            let at = e.position();
            assert!(at.line >= 1 && at.column >= 1, "{e}");
            assert!(at.line as usize <= lines, "{e} beyond {lines} lines");
        }
    }
});
