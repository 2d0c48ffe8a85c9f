//! Container image references: parsing `registry/repo:tag@digest` and the canonical form.

/// A container image reference, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn canonical(&self) -> String {
        let mut s = format!("{}/{}", self.registry, self.repository);
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

/// Parses `[registry/]path[:tag][@digest]` the way container runtimes read it: the first part
/// is a registry when it has a `.` or `:` or is `localhost`; otherwise the registry is Docker
/// Hub (and a one-part path is in `library/`); no tag and no digest means `latest`.
pub fn parse_image(s: &str) -> Option<ImageRef> {
    let s = s.trim();
    if s.is_empty() || s.contains(char::is_whitespace) {
        return None;
    }
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (s, None),
    };
    let (first, remainder) = match rest.split_once('/') {
        Some((f, r)) if f.contains('.') || f.contains(':') || f == "localhost" => (Some(f), r),
        _ => (None, rest),
    };
    let (path, tag) = match remainder.rsplit_once(':') {
        Some((p, t)) if !t.contains('/') => (p, Some(t.to_string())),
        _ => (remainder, None),
    };
    if path.is_empty() {
        return None;
    }
    let registry = first
        .map(|f| f.to_ascii_lowercase())
        .unwrap_or_else(|| "docker.io".into());
    let registry = if registry == "index.docker.io" || registry == "registry-1.docker.io" {
        "docker.io".to_string()
    } else {
        registry
    };
    let repository = if registry == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_string()
    };
    let tag = if tag.is_none() && digest.is_none() {
        Some("latest".to_string())
    } else {
        tag
    };
    Some(ImageRef {
        registry,
        repository,
        tag,
        digest,
    })
}

pub fn normalize_image(s: &str) -> Option<String> {
    parse_image(s).map(|r| r.canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_short_names_and_digests_are_canonical() {
        let r = parse_image("nginx:1.25").unwrap();
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.repository, "library/nginx");
        assert_eq!(r.tag.as_deref(), Some("1.25"));
        let d = parse_image("ghcr.io/acme/api@sha256:abc").unwrap();
        assert_eq!(d.digest.as_deref(), Some("sha256:abc"));
        assert_eq!(
            normalize_image("docker.io/library/nginx:1.25"),
            normalize_image("nginx:1.25")
        );
        assert!(parse_image("").is_none());
    }
}
