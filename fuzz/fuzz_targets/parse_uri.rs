//! URI parsing: no panic; a parsed SIP URI prints to text that parses to an equivalent URI.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_parse::Uri;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(uri) = Uri::parse(text) else { return };
    assert!(uri.equivalent(&uri));
    if let Uri::Sip(sip) = uri {
        let printed = sip.to_string();
        let again = Uri::parse(&printed).expect("printed URI parses");
        assert!(again.equivalent(&uri), "{text} -> {printed}");
        let _ = sip.user_decoded();
    }
});
