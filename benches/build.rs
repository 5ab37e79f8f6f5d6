//! With the feature `sofia`: finds Sofia-SIP with pkg-config and compiles the shim
//! `sofia/shim.c` that `src/sofia.rs` calls. Without it: nothing.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "sofia")]
    sofia::build();
}

#[cfg(feature = "sofia")]
mod sofia {
    use std::process::Command;

    const PACKAGE: &str = "sofia-sip-ua";

    /// `pkg-config FLAG sofia-sip-ua`, split into words.
    fn pkg_config(flag: &str) -> Vec<String> {
        let out = Command::new("pkg-config")
            .args([flag, PACKAGE])
            .output()
            .unwrap_or_else(|e| panic!("feature `sofia`: cannot run pkg-config ({e})"));
        assert!(
            out.status.success(),
            "feature `sofia`: pkg-config does not know {PACKAGE} (install libsofia-sip-ua-dev): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    pub(super) fn build() {
        println!("cargo:rerun-if-changed=sofia/shim.c");
        println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
        let mut shim = cc::Build::new();
        shim.file("sofia/shim.c").opt_level(2).warnings(true);
        for flag in pkg_config("--cflags") {
            match flag.strip_prefix("-I") {
                Some(dir) => shim.include(dir),
                None => shim.flag(&flag),
            };
        }
        shim.compile("rtc_sofia_shim");
        for flag in pkg_config("--libs") {
            if let Some(dir) = flag.strip_prefix("-L") {
                println!("cargo:rustc-link-search=native={dir}");
            } else if let Some(lib) = flag.strip_prefix("-l") {
                println!("cargo:rustc-link-lib={lib}");
            }
        }
    }
}
