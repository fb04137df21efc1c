//! The platform a target is built for when its image names none in the spec.
//!
//! BuildKit builds for its own native platform when it is not told one, so the same
//! inputs would make an amd64 image on one runner and an arm64 image on a laptop. The
//! planner instead gives such targets one platform, hashes it into their inputs digest
//! and writes it into the bake file and the solve: what is built is what was hashed.

/// The platform of the machine stackplan runs on: `linux/<arch>`, the architecture in
/// OCI's names (`amd64`, `arm64`, `ppc64le`, …). The OS is always `linux`: BuildKit
/// builds Linux images on every host Docker runs on (Docker Desktop on a Mac included).
/// oci-spec keeps the Rust → OCI architecture table, so it is not kept here.
pub fn host() -> String {
    format!("linux/{}", oci_spec::image::Arch::default())
}

/// Checks a platform given on the command line: `OS/ARCH` or `OS/ARCH/VARIANT`, each part
/// lower-case letters, digits, `_`, `-` or `.`. Returns the problem, for the CLI's message.
pub fn check(platform: &str) -> Result<(), String> {
    let parts: Vec<&str> = platform.split('/').collect();
    let part_ok = |p: &&str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b))
    };
    if (2..=3).contains(&parts.len()) && parts.iter().all(part_ok) {
        Ok(())
    } else {
        Err(format!(
            "`{platform}` is not a platform: give one OS/ARCH[/VARIANT] in lower case, like linux/amd64 or linux/arm64"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_platform_is_named_as_oci_names_it() {
        let host = host();
        let expected = match std::env::consts::ARCH {
            "x86_64" => "linux/amd64",
            "aarch64" => "linux/arm64",
            _ => return,
        };
        assert_eq!(host, expected);
        assert!(check(&host).is_ok());
    }

    #[test]
    fn a_platform_is_os_arch_and_an_optional_variant() {
        for ok in [
            "linux/amd64",
            "linux/arm64/v8",
            "linux/arm/v7",
            "windows/amd64",
        ] {
            assert!(check(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "amd64",
            "linux/",
            "linux/amd64,linux/arm64",
            "Linux/AMD64",
            "linux/arm/v7/x",
        ] {
            let err = check(bad).unwrap_err();
            assert!(err.contains("OS/ARCH[/VARIANT]"), "{bad}: {err}");
        }
    }
}
